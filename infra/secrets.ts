/**
 * The control plane's root secret (base64url, at least 32 bytes); page tokens, session tokens and
 * signing keys are derived from it. Set it once per stage:
 *   npx sst secret set ServerSecret "$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')" --stage <name>
 */
export const serverSecret = new sst.Secret("ServerSecret");

/**
 * The KMS key that wraps each workspace's data key for user secrets (specs/secrets.md §2): the API and the
 * hosts that place jobs encrypt and decrypt with it (BERTH_KMS_KEY_ID), nothing else. Rotated yearly by KMS; a
 * scheduled deletion waits 30 days (every secret value depends on it).
 */
const secretsKmsKey = new aws.kms.Key("SecretsKmsKey", {
  description: `Berth ${$app.stage}: wraps workspaces' data keys for secrets`,
  enableKeyRotation: true,
  deletionWindowInDays: 30,
});

export const secretsKey = new sst.Linkable("SecretsKey", {
  properties: { id: secretsKmsKey.arn },
  include: [sst.aws.permission({ actions: ["kms:Encrypt", "kms:Decrypt"], resources: [secretsKmsKey.arn] })],
});
