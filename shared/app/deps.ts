import type { AppConfig } from "../config.ts";
import type { ServerKeys } from "../domain/secrets.ts";
import type { Background } from "../ports/background.ts";
import type { Clock } from "../ports/clock.ts";
import type { CloudDeps } from "../ports/cloud.ts";
import type { FeedWatcher } from "../ports/feed-watcher.ts";
import type { SecretKeyring } from "../ports/keyring.ts";
import type { Logger } from "../ports/logger.ts";
import type { Meter } from "../ports/meter.ts";
import type { Repositories } from "../ports/repositories.ts";
import type { Broadcast } from "../ports/store.ts";
import type { PlacementState } from "../usecases/deps.ts";
import type { DeviceAuthCache } from "../usecases/identity/device-session.ts";

/** The built node agent (dist/berth-agent.mjs) that GPU machines download, and its SHA-256 (hex). */
export interface AgentBundle {
  bytes: Uint8Array;
  sha256: string;
}

/** A static file of the API docs page (Swagger UI) or of the dashboard, served from the package: no CDN. */
export interface DocsAsset {
  bytes: Uint8Array;
  contentType: string;
  /** The same bytes gzipped, for clients that accept it (the dashboard's files). */
  gzip?: Uint8Array;
}

/** Everything createApp needs, built by the host's composition root (hosts/app-deps.ts). */
export interface AppDeps {
  repos: Repositories;
  clock: Clock;
  logger: Logger;
  keys: ServerKeys;
  config: AppConfig;
  /** Per-process memo of when each device's presence was last written (skips writes within the window). */
  seenCache: Map<string, number>;
  /** Session tokens verified recently in this process. */
  deviceAuth: DeviceAuthCache;
  /** Wakes long polls when their feed is written. */
  feedWatcher: FeedWatcher;
  /** Messages between the processes sharing a database (PostgreSQL), when there are several. */
  broadcast?: Broadcast;
  /** Work that need not hold up an answer. */
  background: Background;
  /** Counters of this process (shown to operators at /api/v1/metrics). */
  stats: { placementConflicts: number; corruptItems: number };
  /** Counters by workspace (shown to each workspace's admins at /api/v1/metrics). */
  meter: Meter;
  placement: PlacementState;
  capacityFreed(workspaceId: string): Promise<void>;
  fleetChanged(workspaceId: string): Promise<void>;
  applicationChanged(applicationId: string, why?: "changed" | "more"): Promise<void>;
  /** Cloud capacity (ECS, EKS), when configured. */
  cloud?: CloudDeps;
  /** Storage requests sent so far, by operation. */
  storageRequests: () => Record<string, number>;
  /** Which storage engine serves this app, for people. */
  storage: string;
  /** Workspaces' data keys for secrets (local: wrapped by a key derived from the server secret). */
  secretKeyring: SecretKeyring;
  /** The agent bundle this host serves for install.sh, when it has one. */
  agentBundle: () => Promise<AgentBundle | undefined>;
  /** The docs page's static files by name (undefined: not one of them, or not installed). */
  docsAsset: (name: string) => Promise<DocsAsset | undefined>;
  /** The dashboard's built files by path (`index.html`, `assets/...`); undefined: no such file, or not built. */
  dashboardAsset: (path: string) => Promise<DocsAsset | undefined>;
}
