/**
 * The control plane's root secret (base64url, at least 32 bytes); page tokens, session tokens and
 * signing keys are derived from it. Set it once per stage:
 *   npx sst secret set ServerSecret "$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')" --stage <name>
 */
export const serverSecret = new sst.Secret("ServerSecret");
