import type { Secret } from "../../shared/domain/secret.ts";

/** A secret item as a repository stores it (the ciphertext is a stand-in: nothing opens it). */
export const aSecret = (workspaceId: string, extra: Partial<Secret> = {}): Secret => ({
  workspaceId,
  namespace: "default",
  name: "hf",
  type: "Environment",
  description: "",
  allowMemberJobs: false,
  version: 1,
  revision: 1,
  fingerprint: "0123456789abcdef",
  sizeBytes: 9,
  keyId: "k1",
  ciphertext: "nonce.ct",
  createdAt: "2026-12-01T00:00:00.000Z",
  updatedAt: "2026-12-01T00:00:00.000Z",
  createdBy: "key1",
  updatedBy: "key1",
  ...extra,
});
