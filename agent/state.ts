import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { join } from "node:path";
import { z } from "zod";
import { publicKeyToBase64 } from "../shared/domain/signing.ts";
import { privateDir, readJson, writeAtomic } from "./files.ts";

/**
 * The agent's data dir (mode 0700, files 0600):
 *   identity.json   endpoint, machine id, session token, control plane key, registration token, labels
 *   node.key        the node's ed25519 signing key and X25519 encryption key (PKCS#8 PEM)
 *   cursor          the feed cursor: the next sequence number to poll from
 *   done.json       reservations it is done with, until they expire (never applied again)
 *   cache/          one file per reservation the agent applied (see cache.ts)
 *   workloads/      stdout, stderr and exit status of each process it started
 *   volumes/        volume reservations
 */
export const Identity = z.object({
  endpoint: z.string(),
  machineId: z.string(),
  sessionToken: z.string(),
  controlPlaneKey: z.string(),
  /** Kept to log in again (relogin needs it, GPUd-style); never sent anywhere else. */
  registrationToken: z.string(),
  nodeGroup: z.string(),
  /** The labels last sent at login, as JSON, to know when a restart changes them. */
  nodeLabels: z.string().optional(),
  /** The agent protocol the control plane agreed to at the last login (absent: logged in before 0.2). */
  protocol: z.number().int().optional(),
  /**
   * Where the control plane asked this agent to send every later request (AWS: its agent function or
   * service), when that is not `endpoint`, the URL it registered at.
   */
  agentEndpoint: z.string().optional(),
});

/** The URL the agent talks to: the one the control plane gave it at login, else the one it registered at. */
export const agentUrl = (id: Pick<Identity, "endpoint" | "agentEndpoint">): string =>
  id.agentEndpoint ?? id.endpoint;
export type Identity = z.infer<typeof Identity>;

export interface NodeKeys {
  signing: KeyObject;
  signingPublic: string;
  encryption: KeyObject;
  encryptionPublic: string;
}

export function agentPaths(dir: string) {
  return {
    dir,
    identity: join(dir, "identity.json"),
    keys: join(dir, "node.key"),
    cursor: join(dir, "cursor"),
    tombstones: join(dir, "done.json"),
    cache: join(dir, "cache"),
    workloads: join(dir, "workloads"),
    volumes: join(dir, "volumes"),
    /** One record per device operation started (a reboot), fsynced before it is carried out. */
    ops: join(dir, "ops"),
  };
}

export async function ensureAgentDir(dir: string) {
  const paths = agentPaths(dir);
  await privateDir(paths.dir);
  await privateDir(paths.cache);
  await privateDir(paths.workloads);
  await privateDir(paths.volumes);
  await privateDir(paths.ops);
  return paths;
}

export async function loadIdentity(dir: string): Promise<Identity | undefined> {
  const raw = await readJson<unknown>(agentPaths(dir).identity);
  return raw === undefined ? undefined : Identity.parse(raw);
}

export const saveIdentity = (dir: string, identity: Identity) =>
  writeAtomic(agentPaths(dir).identity, `${JSON.stringify(identity, null, 2)}\n`);

/** The node's keys, generated on first start and kept in node.key. */
export async function loadOrCreateKeys(dir: string): Promise<NodeKeys> {
  const path = agentPaths(dir).keys;
  let stored = await readJson<{ signing: string; encryption: string }>(path);
  if (!stored) {
    const signing = generateKeyPairSync("ed25519").privateKey;
    const encryption = generateKeyPairSync("x25519").privateKey;
    stored = {
      signing: signing.export({ format: "pem", type: "pkcs8" }).toString(),
      encryption: encryption.export({ format: "pem", type: "pkcs8" }).toString(),
    };
    await writeAtomic(path, JSON.stringify(stored));
  }
  const signing = createPrivateKey(stored.signing);
  const encryption = createPrivateKey(stored.encryption);
  return {
    signing,
    signingPublic: publicKeyToBase64(createPublicKey(signing)),
    encryption,
    // X25519 public keys are 32 raw bytes after their SPKI header too.
    encryptionPublic: publicKeyToBase64(createPublicKey(encryption)),
  };
}

export async function loadCursor(dir: string): Promise<number> {
  const n = await readJson<number>(agentPaths(dir).cursor);
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

export const saveCursor = (dir: string, cursor: number) =>
  writeAtomic(agentPaths(dir).cursor, String(cursor));
