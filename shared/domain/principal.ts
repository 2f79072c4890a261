import type { Role } from "./roles.ts";

/** Who is calling: a user (or service account) holding an API key of one workspace. */
export interface UserPrincipal {
  kind: "user";
  workspaceId: string;
  keyId: string;
  /** The key's name: jobs record it as their `user`. */
  name: string;
  role: Role;
}

/** A node agent holding its device's session token: it may only see and answer its own feed. */
export interface DevicePrincipal {
  kind: "device";
  workspaceId: string;
  deviceId: string;
  /** The ed25519 key the device registered, which verifies its results (absent for plain GPUd). */
  publicKey?: string;
  /** The agent protocol it logged in with: how what it is sent is signed (absent: 1). */
  protocol?: number;
}

export type Principal = UserPrincipal | DevicePrincipal;
