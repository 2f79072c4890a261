import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";

/** How long the presigned URL inside a token is valid (the API server accepts tokens for ~15 min). */
const EXPIRES_SECONDS = 60;

/**
 * A Kubernetes bearer token for an EKS cluster, as `aws eks get-token` and aws-iam-authenticator make it
 * (specs/cloud.md): a presigned STS GetCallerIdentity URL, signed (SigV4, the AWS SDK's own signer) with
 * the `x-k8s-aws-id: <cluster>` header, base64url without padding, prefixed `k8s-aws-v1.`. No network
 * call: the API server sends the URL to STS to learn who we are.
 */
export async function eksToken(input: {
  cluster: string;
  region: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  signingDate?: Date;
}): Promise<string> {
  const hostname = `sts.${input.region}.amazonaws.com`;
  const signer = new SignatureV4({
    service: "sts",
    region: input.region,
    credentials: input.credentials,
    sha256: Sha256,
  });
  const signed = await signer.presign(
    new HttpRequest({
      method: "GET",
      protocol: "https:",
      hostname,
      path: "/",
      query: { Action: "GetCallerIdentity", Version: "2011-06-15" },
      headers: { host: hostname, "x-k8s-aws-id": input.cluster },
    }),
    { expiresIn: EXPIRES_SECONDS, ...(input.signingDate ? { signingDate: input.signingDate } : {}) },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join("&");
  return `k8s-aws-v1.${Buffer.from(`https://${hostname}/?${query}`).toString("base64url")}`;
}
