import { createHash } from "node:crypto";
import { cpus, totalmem } from "node:os";
import { AGENT_PROTOCOL, signLoginProof } from "../shared/domain/signing.ts";
import type { Logger } from "../shared/ports/logger.ts";
import { BERTH_VERSION } from "../shared/version.ts";
import { Backoff, sleep } from "./backoff.ts";
import { ReservationCache } from "./cache.ts";
import { AgentClient, RejectedError, RevokedError, TransientError } from "./client.ts";
import { Engine } from "./engine.ts";
import { run } from "./exec.ts";
import { HealthCollector } from "./health/collector.ts";
import { GpudSource } from "./health/gpud.ts";
import { expectedGpus, type HealthSource, hasNvidiaSmi, healthLoop } from "./health/loop.ts";
import { collectInventory, type Inventory } from "./inventory.ts";
import { DockerRuntime } from "./runtimes/docker.ts";
import {
  agentUrl,
  ensureAgentDir,
  type Identity,
  loadCursor,
  loadIdentity,
  loadOrCreateKeys,
  type NodeKeys,
  saveCursor,
  saveIdentity,
} from "./state.ts";
import { Tombstones } from "./tombstones.ts";

export const AGENT_VERSION = BERTH_VERSION;

export interface AgentOptions {
  endpoint?: string;
  token?: string;
  nodeGroup?: string;
  /** undefined: leave labels as they are; {}: clear them. */
  nodeLabels?: Record<string, string>;
  gpuCount?: number;
  publicIP?: string;
  privateIP?: string;
  dataDir: string;
  runtime: "auto" | "process" | "docker";
  refreshSessionToken?: boolean;
  stopWorkloadsOnExit?: boolean;
  /** Honour the control plane's reboot operations (off by default); `rebootCommand` replaces systemctl reboot. */
  allowReboot?: boolean;
  rebootCommand?: string;
  /** GPU health (specs/gpu-health.md): on, off, or auto (on when nvidia-smi is on the PATH). */
  health?: "on" | "off" | "auto";
  /** The GPU count gpu-counts expects (default: the count at the agent's first start). */
  expectedGpus?: number;
  /** GPUs that must have all NVLinks up (0 or absent: not checked). */
  expectedNvlinkGpus?: number;
  /** GPUd's local API (https://localhost:15132): its health is forwarded instead of the agent's own. */
  gpudEndpoint?: string;
  /** Kernel log to read (default /dev/kmsg; tests give a file). */
  kmsgPath?: string;
  /** How often health is collected (default a minute). */
  healthMs?: number;
  log: Logger;
  /** How often the engine's clock runs (tests shorten it). */
  tickMs?: number;
  /** How often the inventory is collected again (heartbeat when it changed). */
  inventoryMs?: number;
  /**
   * How long polls to the agent endpoint (the host login named) may fail (no answer, or a 5xx) before the
   * agent logs in again at its registered URL, and polls that while the agent endpoint stays the one that
   * failed. Default 120 s; afterwards the agent endpoint is tried again every ten times that.
   */
  endpointFallbackMs?: number;
}

export type AgentExit =
  | { code: 0; reason: "stopped" }
  | { code: 2; reason: "revoked" | "setup"; message: string };

/** The agent's first message when it stops for good: what happened and what to do. */
export const REVOKED_MESSAGE =
  "this device was deleted or its session revoked; register the machine again: berth agent --endpoint URL --token TOKEN with a new data dir";

/** Seconds past a poll's expected answer after which the control plane may have taken the agent for silent. */
const SILENCE_MARGIN_S = 60;

function loginBody(
  o: AgentOptions,
  id: Identity | undefined,
  keys: NodeKeys,
  inv: Inventory,
  token: string,
  group: string,
) {
  const gpus = o.gpuCount ?? inv.gpuCount;
  return {
    token,
    machineID: id?.machineId ?? "",
    nodeGroup: id ? undefined : group,
    ...(o.nodeLabels === undefined ? {} : { nodeLabels: o.nodeLabels }),
    network: { publicIP: o.publicIP, privateIP: o.privateIP ?? inv.privateIP },
    location: {},
    provider: "",
    providerInstanceID: "",
    resources: {
      cpu: String(cpus().length),
      memory: `${Math.floor(totalmem() / 2 ** 20)}Mi`,
      ...(gpus > 0 ? { "nvidia.com/gpu": String(gpus) } : {}),
    },
    machineInfo: inv.machineInfo,
    publicKey: keys.signingPublic,
    encryptionKey: keys.encryptionPublic,
    agentVersion: AGENT_VERSION,
    protocol: AGENT_PROTOCOL,
    ...(o.refreshSessionToken ? { refreshSessionToken: true } : {}),
    // A relogin proves this machine holds the key it registered with: the token alone would not do.
    ...(id ? { proof: signLoginProof(id.machineId, new Date().toISOString(), keys.signing) } : {}),
  };
}

/**
 * Logs in when needed: first start (no identity), changed --node-labels, --refresh-session-token, or an
 * identity from before protocol negotiation (once, to agree on signing v2). Otherwise reuses the stored
 * identity and does not call the control plane at all.
 */
async function establishIdentity(o: AgentOptions, keys: NodeKeys, inv: Inventory): Promise<Identity> {
  const stored = await loadIdentity(o.dataDir);
  const labels = o.nodeLabels === undefined ? stored?.nodeLabels : JSON.stringify(o.nodeLabels);
  const labelsChanged = o.nodeLabels !== undefined && labels !== stored?.nodeLabels;
  if (stored && !labelsChanged && !o.refreshSessionToken) {
    if (o.endpoint && o.endpoint.replace(/\/+$/, "") !== stored.endpoint) {
      throw new Error(
        `this data dir belongs to ${stored.endpoint}; use another --data-dir for ${o.endpoint}`,
      );
    }
    if (stored.protocol !== undefined) return stored;
    try {
      return await login(o, stored, keys, inv, labels);
    } catch (err) {
      if (err instanceof TransientError) throw err;
      // The token may be gone (devices keep working without it): stay on protocol 1 until a later start.
      o.log.warn("could not log in again to agree on signing v2; staying on protocol 1", {
        error: (err as Error).message,
      });
      return stored;
    }
  }
  return login(o, stored, keys, inv, labels);
}

async function login(
  o: AgentOptions,
  stored: Identity | undefined,
  keys: NodeKeys,
  inv: Inventory,
  labels: string | undefined,
): Promise<Identity> {
  const endpoint = (o.endpoint ?? stored?.endpoint)?.replace(/\/+$/, "");
  const token = o.token ?? stored?.registrationToken;
  if (!endpoint || !token)
    throw new Error("first start: --endpoint and --token are required to register this machine");
  const group = o.nodeGroup ?? stored?.nodeGroup ?? "default";
  // A relogin goes where the control plane last sent this agent; if that host cannot be reached, to the
  // URL it registered at (the hosting may have changed).
  const body = loginBody(o, stored, keys, inv, token, group);
  let answeredAt = stored?.agentEndpoint ?? endpoint;
  let res: Awaited<ReturnType<AgentClient["login"]>>;
  try {
    res = await new AgentClient(answeredAt).login(body);
  } catch (err) {
    if (!(err instanceof TransientError) || answeredAt === endpoint) throw err;
    o.log.warn("cannot reach the agent endpoint; logging in at the registered one", {
      agentEndpoint: answeredAt,
      error: (err as Error).message,
    });
    answeredAt = endpoint;
    res = await new AgentClient(answeredAt).login(body);
  }
  // The agent host itself may not know its own URL: one that answered keeps being used.
  const agentEndpoint =
    res.agentEndpoint?.replace(/\/+$/, "") ?? (answeredAt !== endpoint ? answeredAt : undefined);
  const identity: Identity = {
    endpoint,
    machineId: res.machineID,
    sessionToken: res.token,
    controlPlaneKey: res.controlPlaneKey,
    registrationToken: token,
    nodeGroup: group,
    nodeLabels: labels,
    // A control plane that names no protocol speaks 1.
    protocol: res.protocol ?? 1,
    ...(agentEndpoint && agentEndpoint !== endpoint ? { agentEndpoint } : {}),
  };
  await saveIdentity(o.dataDir, identity);
  o.log.info(stored ? "logged in again" : "registered", {
    machineId: res.machineID,
    endpoint,
    ...(identity.agentEndpoint ? { agentEndpoint: identity.agentEndpoint } : {}),
  });
  return identity;
}

const fingerprint = (inv: Inventory) =>
  createHash("sha256").update(JSON.stringify(inv.machineInfo)).digest("hex");

/**
 * `berth agent`: registers (or reuses its identity), then long-polls its feed and runs what it is told
 * until `signal` aborts (SIGTERM/SIGINT) or the control plane revokes it. Network errors back off with
 * full jitter (cap 60 s, Retry-After honoured); the cursor is stored only after the reservations of a
 * response are safely recorded.
 */
export async function runAgent(o: AgentOptions, signal: AbortSignal): Promise<AgentExit> {
  const paths = await ensureAgentDir(o.dataDir);
  const keys = await loadOrCreateKeys(o.dataDir);
  const docker = o.runtime === "process" ? undefined : new DockerRuntime(run);
  if (o.runtime === "docker") {
    const problem = await docker!.problem();
    if (problem)
      return {
        code: 2,
        reason: "setup",
        message: `--runtime docker, but docker is not available: ${problem}`,
      };
  }
  let inventory = await collectInventory(run, { useDocker: docker !== undefined });
  if (inventory.gpuProblem) o.log.warn("no GPUs detected", { reason: inventory.gpuProblem });

  let identity: Identity;
  for (const backoff = new Backoff(); ; ) {
    try {
      identity = await establishIdentity(o, keys, inventory);
      break;
    } catch (err) {
      if (err instanceof TransientError && !signal.aborted) {
        const wait = backoff.next(err.retryAfterMs);
        o.log.warn("cannot log in yet; retrying", { error: err.message, retryInMs: wait });
        await sleep(wait, signal);
        if (signal.aborted) return { code: 0, reason: "stopped" };
        continue;
      }
      return { code: 2, reason: "setup", message: (err as Error).message };
    }
  }
  const client = new AgentClient(agentUrl(identity), identity.sessionToken);
  const cache = new ReservationCache(paths.cache);
  await cache.load();
  const tombstones = new Tombstones(paths.tombstones);
  await tombstones.load();
  // Woken when Docker's images change (a prepull): the prepuller reads them from the inventory.
  let wakeInventory = new AbortController();
  const healthOn = o.health === "on" || (o.health !== "off" && (await hasNvidiaSmi()));
  const collector: HealthSource | undefined = o.gpudEndpoint
    ? new GpudSource({
        endpoint: o.gpudEndpoint,
        ...(process.env.BERTH_AGENT_BOOT_ID_FILE ? { bootIdPath: process.env.BERTH_AGENT_BOOT_ID_FILE } : {}),
      })
    : healthOn
      ? new HealthCollector({
          run,
          dataDir: o.dataDir,
          ...(o.kmsgPath ? { kmsgPath: o.kmsgPath } : {}),
          ...(process.env.BERTH_AGENT_BOOT_ID_FILE
            ? { bootIdPath: process.env.BERTH_AGENT_BOOT_ID_FILE }
            : {}),
          // Tests stand in for /proc/stat's boot time.
          ...(process.env.BERTH_AGENT_PROC_STAT ? { procStatPath: process.env.BERTH_AGENT_PROC_STAT } : {}),
          expectedGpus: await expectedGpus(o.dataDir, o.expectedGpus, inventory.gpuCount),
          expectedNvlinkGpus: o.expectedNvlinkGpus,
        })
      : undefined;
  // Woken by a set-healthy: the next report goes out now, not in a minute.
  let wakeHealth = new AbortController();
  const engine = new Engine({
    cache,
    client,
    keys,
    controlPlaneKey: identity.controlPlaneKey,
    protocol: identity.protocol,
    machineId: identity.machineId,
    tombstones,
    paths,
    docker,
    imagesChanged: () => wakeInventory.abort(),
    ...(collector
      ? {
          health: async (components: string[] | undefined, issuedAt: Date) => {
            await collector.setHealthy(components, issuedAt);
            wakeHealth.abort();
          },
        }
      : {}),
    reboot: {
      allowed: o.allowReboot === true,
      ...(o.rebootCommand ? { command: o.rebootCommand } : {}),
      // Tests stand in for /proc's (a reboot they cannot do).
      ...(process.env.BERTH_AGENT_BOOT_ID_FILE ? { bootIdFile: process.env.BERTH_AGENT_BOOT_ID_FILE } : {}),
    },
    log: o.log,
  });
  await engine.recover();
  o.log.info("agent started", {
    machineId: identity.machineId,
    endpoint: agentUrl(identity),
    gpus: inventory.gpuCount,
  });

  const stop = new AbortController();
  const halt = () => stop.abort();
  signal.addEventListener("abort", halt, { once: true });
  // A SIGTERM that came while it was starting (logging in, re-attaching) has fired already: stop now.
  if (signal.aborted) halt();
  let revoked: string | undefined;
  const onRevoked = (err: unknown) => {
    if (!(err instanceof RevokedError)) return false;
    revoked ??= err.message;
    stop.abort();
    return true;
  };

  const fallbackMs = o.endpointFallbackMs ?? 120_000;
  /** Since when polls have failed for lack of an answer; when the registered URL stands in, until when. */
  let failingSince: number | undefined;
  let standInUntil = 0;
  /**
   * The agent endpoint has not answered for `fallbackMs`: log in again at the registered URL, which names
   * the agent endpoint as it is now (the hosting may have changed). If it names the one that failed, poll the
   * registered URL meanwhile (every host serves the agent routes) and try the agent endpoint again later.
   */
  const fallBack = async () => {
    const failed = client.endpoint;
    try {
      // The same session (no refresh): requests in flight with the current token must not be refused.
      const relogin = { ...o, refreshSessionToken: false };
      identity = await login(
        relogin,
        { ...identity, agentEndpoint: undefined },
        keys,
        inventory,
        identity.nodeLabels,
      );
    } catch (err) {
      if (onRevoked(err)) return;
      o.log.warn("the registered URL does not answer either; retrying both", {
        error: (err as Error).message,
      });
      return;
    }
    client.sessionToken = identity.sessionToken;
    const named = agentUrl(identity);
    client.endpoint = named === failed ? identity.endpoint : named;
    if (named === failed) standInUntil = Date.now() + fallbackMs * 10;
    o.log.warn("the agent endpoint did not answer; moved", {
      from: failed,
      to: client.endpoint,
      ...(named === failed ? { retryAgentEndpointInMs: fallbackMs * 10 } : {}),
    });
  };

  /** When the control plane stopped answering this agent's polls (undefined: it answers). */
  let lostAt: number | undefined;
  /** When a poll last got its answer (0: none yet since the agent started). */
  let answeredAt = 0;
  /** Seconds the last answer asked the agent to wait before polling again. */
  let paused = 0;
  const pollLoop = async () => {
    let cursor = await loadCursor(o.dataDir);
    let wait = 25;
    const backoff = new Backoff();
    while (!stop.signal.aborted) {
      try {
        // The registered URL stood in long enough: back to the agent endpoint (if it fails, again the same).
        if (standInUntil && Date.now() > standInUntil && client.endpoint !== agentUrl(identity)) {
          standInUntil = 0;
          client.endpoint = agentUrl(identity);
          o.log.info("trying the agent endpoint again", { endpoint: client.endpoint });
        }
        const res = await client.poll(cursor, cursor === 0 ? 0 : wait, stop.signal);
        if (lostAt !== undefined) {
          o.log.info("reconnected to the control plane", {
            afterSeconds: Math.round((Date.now() - lostAt) / 1000),
            endpoint: client.endpoint,
          });
          lostAt = undefined;
        }
        // The first answer, or one after a silence the control plane may have seen: statuses go again.
        if (Date.now() - answeredAt > (wait + paused + SILENCE_MARGIN_S) * 1000) engine.reportAgain();
        answeredAt = Date.now();
        failingSince = undefined;
        engine.limits(res.limits);
        for (const r of res.reservations) await engine.accept(r);
        if (cursor === 0) await engine.reconcile(new Set(res.reservations.map((r) => r.id)), res.sync);
        // Only now: everything in the response is recorded, so a crash cannot skip it.
        cursor = res.next;
        await saveCursor(o.dataDir, cursor);
        wait = res.waitHintSeconds;
        backoff.reset();
        // A control plane that does not hold polls says when to come back.
        paused = res.pollAfterSeconds && res.reservations.length === 0 ? res.pollAfterSeconds : 0;
        if (paused) await sleep(paused * 1000, stop.signal);
      } catch (err) {
        if (stop.signal.aborted || onRevoked(err)) break;
        if (err instanceof TransientError && client.endpoint !== identity.endpoint) {
          failingSince ??= Date.now();
          if (Date.now() - failingSince >= fallbackMs) {
            failingSince = undefined;
            await fallBack();
            if (stop.signal.aborted) break;
            backoff.reset();
            continue;
          }
        }
        const delay = backoff.next(err instanceof TransientError ? err.retryAfterMs : undefined);
        if (err instanceof TransientError && lostAt === undefined) {
          // Once per outage, where a person sees it; each retry after it only at debug.
          lostAt = Date.now();
          o.log.warn("lost the control plane; retrying until it is back (workloads keep running)", {
            endpoint: client.endpoint,
            error: (err as Error).message,
          });
        }
        o.log[lostAt === undefined ? "warn" : "debug"]("poll failed; retrying", {
          error: (err as Error).message,
          retryInMs: delay,
        });
        if (err instanceof RejectedError && err.status === 400) cursor = 0; // a cursor the server refuses: start over
        await sleep(delay, stop.signal);
      }
    }
  };

  // The engine's clock never waits on a request (reports run beside it): expiries stay on time.
  const clockLoop = () =>
    engine.runClock(o.tickMs ?? 500, stop.signal, (err) => {
      if (!onRevoked(err)) o.log.warn("engine tick failed", { error: (err as Error).message });
    });

  const inventoryLoop = async () => {
    let sent = fingerprint(inventory);
    while (!stop.signal.aborted) {
      await sleep(o.inventoryMs ?? 60_000, AbortSignal.any([stop.signal, wakeInventory.signal]));
      wakeInventory = new AbortController();
      if (stop.signal.aborted) break;
      try {
        inventory = await collectInventory(run, { useDocker: docker !== undefined });
        if (fingerprint(inventory) !== sent) {
          await client.heartbeat({ machineInfo: inventory.machineInfo, agentVersion: AGENT_VERSION });
          sent = fingerprint(inventory);
          o.log.info("machine info changed; sent", {});
        }
      } catch (err) {
        if (onRevoked(err)) break;
        o.log.warn("heartbeat failed", { error: (err as Error).message });
      }
    }
  };

  const gpuHealthLoop = () =>
    collector
      ? healthLoop({
          collector,
          send: (report) => client.health(report),
          log: o.log,
          signal: stop.signal,
          wake: () => {
            if (wakeHealth.signal.aborted) wakeHealth = new AbortController();
            return wakeHealth.signal;
          },
          everyMs: o.healthMs,
          revoked: onRevoked,
        })
      : Promise.resolve();

  await Promise.all([pollLoop(), clockLoop(), inventoryLoop(), gpuHealthLoop()]);
  engine.stopSampling();
  signal.removeEventListener("abort", halt);
  if (revoked) {
    o.log.error(REVOKED_MESSAGE, { detail: revoked });
    return { code: 2, reason: "revoked", message: REVOKED_MESSAGE };
  }
  await engine.idle();
  if (o.stopWorkloadsOnExit) {
    await engine.stopAll();
    // One last chance to report what the stop produced (results), without waiting long.
    await Promise.race([engine.tick().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  }
  o.log.info("agent stopped", { workloadsLeftRunning: !o.stopWorkloadsOnExit });
  return { code: 0, reason: "stopped" };
}
