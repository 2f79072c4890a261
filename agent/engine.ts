import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { AgentReservation } from "../shared/contracts/reservations.ts";
import { isExpired } from "../shared/domain/reservation.ts";
import { RESERVATION_DATA } from "../shared/domain/reservation-data.ts";
import {
  signResult,
  verifyControl,
  verifyControlV2,
  verifyRemovalV2,
  verifyReservation,
  verifyReservationV2,
  verifySampleV2,
  verifySyncV2,
} from "../shared/domain/signing.ts";
import type { Logger } from "../shared/ports/logger.ts";
import type { CacheRecord, ReservationCache } from "./cache.ts";
import { type AgentClient, RejectedError, RevokedError } from "./client.ts";
import { run } from "./exec.ts";
import { writeDurable } from "./files.ts";
import {
  DEFAULT_BODY_LIMIT,
  MIN_BATCH_BYTES,
  nextOutput,
  type OutputPosition,
  RELEASE_SHIPPED_BYTES,
  redact,
  releaseShipped,
} from "./output.ts";
import {
  type AppProgram,
  afterExit,
  appContainerName,
  appNetworkName,
  containerState,
  networkOf,
  programEnded,
  restartBackoffMs,
  startProgram,
} from "./runtimes/apps.ts";
import type { DockerRuntime } from "./runtimes/docker.ts";
import { answers, freePort, PROBE_EVERY_MS } from "./runtimes/lab.ts";
import {
  ApplyError,
  exitStatus,
  isAlive,
  recordedPid,
  signalGroup,
  startProcess,
  startTicks,
  stopProcess,
} from "./runtimes/process.ts";
import {
  dockerConfig,
  openedValues,
  openSecrets,
  removeDockerConfig,
  removeEnvFile,
  removeSecrets,
  secretFilesThere,
} from "./secrets.ts";
import type { NodeKeys } from "./state.ts";
import type { Tombstones } from "./tombstones.ts";
import { type SampleTarget, SamplingLeases, UsageSampler } from "./usage.ts";

/** Room left under the control plane's body limit (its JSON parser counts the body alone; margin for rounding). */
const BODY_MARGIN_BYTES = 1024;
/**
 * How long one reporting pass ships a workload's output; an ended workload's result waits no longer for
 * it (it then goes out marked `outputPending`, and the output follows).
 */
const OUTPUT_PASS_MS = 2000;
/** How far a boot sync's time may be from the agent's clock for the agent to act on its list. */
const SYNC_WINDOW_MS = 5 * 60_000;

export interface EngineDeps {
  cache: ReservationCache;
  client: AgentClient;
  keys: NodeKeys;
  controlPlaneKey: string;
  /**
   * The protocol negotiated at login (1 when absent). With 2, every entry must be signed over canonical
   * bytes and addressed to `machineId`; removals and boot-sync lists must be signed; replays are refused.
   */
  protocol?: number;
  machineId?: string;
  /** Reservations done with (never applied again); absent: none kept. */
  tombstones?: Tombstones;
  paths: { workloads: string; volumes: string; ops?: string };
  /**
   * Device reboots (applications.md §8): refused unless `allowed` (--allow-reboot); `command` replaces
   * `systemctl reboot` (which needs root); the boot id is read from `bootIdFile` (/proc's, unless a test's).
   */
  reboot?: { allowed: boolean; command?: string; bootIdFile?: string };
  /** undefined when containers are disabled (--runtime process). */
  docker?: DockerRuntime;
  /** Docker's images changed (a prepull or a lab's pull): the inventory is sent again now, not in a minute. */
  imagesChanged?: () => void;
  /** GPU health's set-healthy (specs/gpu-health.md §5); absent: this agent does not collect health. */
  health?: (components: string[] | undefined, issuedAt: Date) => Promise<void>;
  log: Logger;
  now?: () => Date;
}

/** How long an adopting successor waits for the old reservation's output to go out under it. */
const ADOPT_FLUSH_MS = 5000;

/** A lab workload's record: where it serves and how it is probed. */
const labOf = (
  lab: { port: number; readinessPath: string; readinessTimeoutSeconds: number },
  hostPort: number | undefined,
): NonNullable<CacheRecord["lab"]> => ({
  port: lab.port,
  path: lab.readinessPath,
  timeoutSeconds: lab.readinessTimeoutSeconds,
  ...(hostPort ? { hostPort } : {}),
});

/**
 * The agent's engine (specs/agent-protocol.md §2, after zos): verifies the control plane's signature on
 * every reservation and never runs one that does not verify; applies each reservation once (a cached one
 * is skipped); refuses expired or toDelete ones; decommissions on removal or expiry (its own clock, which
 * runs while the control plane is unreachable). Everything it starts is recorded on disk first, so a
 * restarted agent re-attaches to its workloads instead of starting them again, and still reports them.
 */
export class Engine {
  readonly #d: EngineDeps;
  readonly #busy = new Map<string, Promise<void>>();
  /** Secret values by reservation, to mask in output (in memory only). */
  readonly #secrets = new Map<string, string[]>();
  readonly #retryAt = new Map<string, number>();
  #reporting?: Promise<void>;
  /** Reservations whose reports are being sent right now (#ship). */
  readonly #shipping = new Set<string>();
  #advertised = 0;
  #outputBudget = DEFAULT_BODY_LIMIT - BODY_MARGIN_BYTES;

  /** Sampling leases of running workloads (specs/launcher-extras.md §1). */
  readonly #sampling: SamplingLeases;

  constructor(deps: EngineDeps) {
    this.#d = deps;
    this.#sampling = new SamplingLeases({
      sampler: new UsageSampler({ run }),
      target: (id) => this.#sampleTarget(id),
      post: (id, samples) => this.#d.client.usage(id, samples),
      log: deps.log,
    });
  }

  /** What a reservation runs, as the sampler reads it; undefined once it no longer runs. */
  #sampleTarget(id: string): SampleTarget | undefined {
    const record = this.#d.cache.get(id);
    if (record?.status !== "running") return undefined;
    const w = record.workload;
    const data = JSON.parse(record.reservation.data) as { gpus?: number[] | "all"; cpus?: number };
    const gpus = Array.isArray(data.gpus) ? data.gpus : [];
    if (w.kind === "process" && w.pid > 0) return { kind: "process", pgid: w.pid, gpus };
    if (w.kind === "container") return { kind: "container", name: w.name, gpus, cpuLimit: data.cpus };
    return undefined;
  }

  /** Stops sampling (the agent is stopping). */
  stopSampling(): void {
    this.#sampling.stop();
  }

  #now = () => (this.#d.now ?? (() => new Date()))();

  /** Serialises work per reservation: an apply and a decommission of one reservation never overlap. */
  #exclusive(id: string, work: () => Promise<void>): Promise<void> {
    const previous = this.#busy.get(id) ?? Promise.resolve();
    const next = previous.then(work, work).finally(() => {
      if (this.#busy.get(id) === next) this.#busy.delete(id);
    });
    this.#busy.set(id, next);
    return next;
  }

  /** Waits for applies and decommissions under way (shutdown, tests). */
  async idle(): Promise<void> {
    while (this.#busy.size > 0) await Promise.all(this.#busy.values());
  }

  /**
   * A reservation from the feed. Returns once it is safely recorded (or refused), so the caller may then
   * advance its cursor; long work (a decommission's grace period) continues in the background.
   */
  async accept(r: AgentReservation): Promise<void> {
    const v2 = this.#v2;
    if (v2 && r.nodeId !== this.#d.machineId) {
      this.#d.log.warn("refusing an entry addressed to another device", {
        reservation: r.id,
        nodeId: r.nodeId,
      });
      return;
    }
    if (r.control) return this.#control(r);
    if (r.toDelete && v2) {
      const removal = r.removal;
      if (!removal || !verifyRemovalV2({ id: r.id, nodeId: r.nodeId, ...removal }, this.#d.controlPlaneKey)) {
        this.#d.log.warn("refusing a removal whose signature does not verify", { reservation: r.id });
        return;
      }
      void this.decommission(r.id, "removal");
      return;
    }
    if (!r.toDelete) {
      // Applied already (a boot sync lists what runs), or done with: never again, whatever it says now.
      if (this.#d.cache.has(r.id)) return;
      if (this.#d.tombstones?.has(r.id)) {
        this.#d.log.warn("not applying a reservation again (it was done with already: a replay?)", {
          reservation: r.id,
        });
        return;
      }
    }
    if (
      !(v2 ? verifyReservationV2(r, this.#d.controlPlaneKey) : verifyReservation(r, this.#d.controlPlaneKey))
    ) {
      this.#d.log.warn("refusing a reservation whose signature does not verify", { reservation: r.id });
      await this.#sendResultNow(r.id, "error", "signature verification failed");
      return;
    }
    if (r.toDelete) {
      void this.decommission(r.id, "removal");
      return;
    }
    if (isExpired(r, this.#now())) {
      this.#d.log.info("not applying an expired reservation", { reservation: r.id });
      return;
    }
    await this.#exclusive(r.id, () => this.#apply(r));
  }

  get #v2() {
    return (this.#d.protocol ?? 1) >= 2;
  }

  /**
   * After a boot sync: whatever the agent runs that the control plane no longer lists is decommissioned.
   * Protocol 2: only on a list the control plane signed, recent, and only what existed when it was made
   * (an old list replayed says nothing of what came after it).
   */
  async reconcile(
    listed: Set<string>,
    sync?: { at: string; ids: string[]; signature: string },
  ): Promise<void> {
    let madeAt = Number.POSITIVE_INFINITY;
    if (this.#v2) {
      const ok =
        sync &&
        Math.abs(Date.parse(sync.at) - this.#now().getTime()) <= SYNC_WINDOW_MS &&
        verifySyncV2({ nodeId: this.#d.machineId!, ...sync }, this.#d.controlPlaneKey);
      if (!ok) {
        this.#d.log.warn(
          "not reconciling with a boot sync whose list is unsigned, stale or does not verify",
          {},
        );
        return;
      }
      listed = new Set(sync.ids);
      madeAt = Date.parse(sync.at);
    }
    for (const record of this.#d.cache.all()) {
      const running = record.status === "running" || record.status === "starting";
      const before = Date.parse(record.reservation.created) < madeAt;
      if (running && before && !listed.has(record.reservation.id))
        void this.decommission(record.reservation.id, "removal");
    }
  }

  async #apply(r: AgentReservation): Promise<void> {
    if (this.#d.cache.has(r.id)) return;
    const parsed = RESERVATION_DATA[r.type].safeParse(JSON.parse(r.data));
    if (!parsed.success) {
      await this.#sendResultNow(r.id, "error", `invalid ${r.type} data: ${parsed.error.issues[0]?.message}`);
      return;
    }
    const record: CacheRecord = {
      reservation: r,
      status: "starting",
      workload: { kind: "none" },
      updatedAt: "",
    };
    try {
      switch (r.type) {
        case "process": {
          const data = RESERVATION_DATA.process.parse(JSON.parse(r.data));
          // Secrets first: a value that does not open runs nothing (and is not cached).
          const opened = await openSecrets(this.#d.keys.encryption, this.#d.machineId, r.id, data);
          if (opened.values.length) this.#secrets.set(r.id, opened.values);
          // A lab listens on a port picked here (a process has no Docker to choose one).
          const labPort = data.lab ? await freePort() : undefined;
          const env = {
            ...data.env,
            ...opened.env,
            ...(opened.dir ? { BERTH_SECRETS_DIR: opened.dir } : {}),
            ...(labPort ? { BERTH_LAB_PORT: String(labPort) } : {}),
          };
          if (data.lab) record.lab = labOf(data.lab, labPort);
          // Recorded before the spawn: a crash in between is found again through the wrapper's pid file.
          record.workload = {
            kind: "process",
            pid: 0,
            dir: join(this.#d.paths.workloads, r.id),
            grace: data.stopGracePeriodSeconds,
          };
          await this.#d.cache.put(record);
          const started = await startProcess(r.id, { ...data, env }, this.#d.paths.workloads);
          record.workload = { kind: "process", ...started, grace: data.stopGracePeriodSeconds };
          record.status = "running";
          record.startedSent = false;
          record.output = { seq: 1, stdout: 0, stderr: 0 };
          break;
        }
        case "container": {
          const docker = await this.#dockerOrThrow();
          const data = RESERVATION_DATA.container.parse(JSON.parse(r.data));
          const opened = await openSecrets(this.#d.keys.encryption, this.#d.machineId, r.id, data, {
            kind: "container",
            user: data.user,
          });
          if (opened.values.length) this.#secrets.set(r.id, opened.values);
          if (data.lab) {
            await docker.pullForLab(data.image, (message) => this.#labPulling(r.id, message));
            this.#d.imagesChanged?.();
          }
          const started = await docker
            .start(r.id, data, this.#d.paths.workloads, opened)
            .finally(() => removeEnvFile(opened.envFile));
          record.workload = { kind: "container", ...started, grace: data.stopGracePeriodSeconds };
          if (data.lab) record.lab = labOf(data.lab, await docker.hostPort(started.name, data.lab.port));
          // Its IPs and the host ports Docker chose: reported with its start (specs/launcher-extras.md §2).
          const network = await docker.network(started.name);
          if (network) record.network = network;
          record.status = "running";
          record.startedSent = false;
          record.output = { seq: 1, stdout: 0, stderr: 0 };
          break;
        }
        case "prepull": {
          const docker = await this.#dockerOrThrow();
          await docker.pull(RESERVATION_DATA.prepull.parse(JSON.parse(r.data)).image);
          this.#d.imagesChanged?.();
          record.status = "finished";
          record.result = this.#report("ok", "", {});
          break;
        }
        case "volume": {
          const path = join(this.#d.paths.volumes, RESERVATION_DATA.volume.parse(JSON.parse(r.data)).name);
          await mkdir(path, { recursive: true, mode: 0o700 });
          record.workload = { kind: "volume", path };
          record.status = "running";
          record.result = this.#report("ok", "", { path });
          break;
        }
        case "application": {
          const data = RESERVATION_DATA.application.parse(JSON.parse(r.data));
          const docker = data.kind === "container" ? await this.#dockerOrThrow() : undefined;
          if (await this.#adopt(r, data, record)) break;
          const programs: AppProgram[] = [];
          record.workload = {
            kind: "app",
            appId: data.application.id,
            specHash: data.application.specHash,
            grace: data.stopGracePeriodSeconds,
            programs,
          };
          await this.#d.cache.put(record);
          const values: string[] = [];
          if (docker) {
            await this.#startAppContainers(r.id, data, docker, programs, values, () =>
              this.#d.cache.put(record),
            );
            if (values.length) this.#secrets.set(r.id, values);
            record.status = "running";
            record.output = { seq: 1, stdout: 0, stderr: 0 };
            break;
          }
          for (const p of data.containers) {
            const opened = await openSecrets(this.#d.keys.encryption, this.#d.machineId, r.id, p, {
              kind: "process",
              subdir: p.name,
            });
            values.push(...opened.values);
            const env = { ...p.env, ...opened.env, ...(opened.dir ? { BERTH_SECRETS_DIR: opened.dir } : {}) };
            const started = await startProgram(
              r.id,
              p,
              env,
              this.#d.paths.workloads,
              data.stopGracePeriodSeconds,
            );
            programs.push({
              name: p.name,
              ...started,
              state: "running",
              restartCount: 0,
              startedAt: this.#now().toISOString(),
              message: "",
              secretsOf: r.id,
            });
          }
          if (values.length) this.#secrets.set(r.id, values);
          record.status = "running";
          record.output = { seq: 1, stdout: 0, stderr: 0 };
          break;
        }
        case "debug":
          record.status = "finished";
          record.result = { state: "ok", error: "", data: r.data, sent: false };
          break;
        case "operation": {
          const op = RESERVATION_DATA.operation.parse(JSON.parse(r.data));
          if (op.action === "set-healthy") {
            record.status = "finished";
            if (!this.#d.health) {
              record.result = this.#report(
                "error",
                "rejected: this agent does not collect GPU health (no nvidia-smi, or --health off)",
                {},
              );
              break;
            }
            // Only what was logged up to the operation's issue: an Xid after it survives.
            await this.#d.health(op.components, new Date(r.created));
            record.result = this.#report("ok", "", { components: op.components ?? [] });
            break;
          }
          const reboot = this.#d.reboot;
          const refusal = !reboot?.allowed
            ? "rejected: this agent does not allow reboots (start it with --allow-reboot)"
            : !reboot.command && process.getuid?.() !== 0
              ? "rejected: the agent is not root, so systemctl reboot would fail (run it as root, or give --reboot-command)"
              : undefined;
          if (refusal) {
            record.status = "finished";
            record.result = this.#report("error", refusal, {});
            break;
          }
          const bootId = await readBootId(reboot?.bootIdFile);
          record.workload = { kind: "operation", bootId };
          record.status = "running";
          record.startedSent = false;
          // On disk before anything happens: after the boot, this record says the reboot was this one's.
          await this.#d.cache.put(record);
          if (this.#d.paths.ops)
            await writeDurable(
              join(this.#d.paths.ops, `${r.id}.json`),
              JSON.stringify({ id: r.id, action: "reboot", bootId, at: this.#now().toISOString() }),
            );
          setTimeout(() => void this.#reboot(r.id), 0);
          break;
        }
      }
    } catch (err) {
      // A failed apply is reported and not kept: nothing of it runs, now or on a replay (nor stays in memory).
      const w = record.workload;
      if (w.kind === "app") {
        await this.#stopPrograms(w, 0);
        await this.#leaveNetwork(r.id, w);
      }
      await this.#d.tombstones?.add(r.id, r);
      await this.#d.cache.drop(r.id);
      const values = this.#secrets.get(r.id) ?? [];
      this.#secrets.delete(r.id);
      await removeSecrets(r.id).catch(() => {});
      // An error may quote what it was given (spawn quotes a bad environment value): never a secret's.
      const message = redact(
        err instanceof ApplyError ? err.message : `could not apply: ${(err as Error).message}`,
        values,
      );
      this.#d.log.warn("apply failed", { reservation: r.id, error: message });
      await this.#sendResultNow(r.id, "error", message);
      return;
    }
    await this.#d.cache.put(record);
    this.#d.log.info("applied", { reservation: r.id, type: r.type });
  }

  async #dockerOrThrow(): Promise<DockerRuntime> {
    if (!this.#d.docker) throw new ApplyError("containers are disabled on this agent (--runtime process)");
    const problem = await this.#d.docker.problem();
    if (problem) throw new ApplyError(`docker is not available: ${problem}`);
    return this.#d.docker;
  }

  /**
   * Stops and removes a reservation's workload, then reports `deleted` (also for one the agent never had).
   * `reason` is kept so its exit status is reported as what it was: a removal or an expiry.
   */
  decommission(id: string, reason: "removal" | "expiry" | "agent-exit"): Promise<void> {
    return this.#exclusive(id, async () => {
      let record = this.#d.cache.get(id);
      if (!record) {
        // Unknown here: nothing to stop; still acknowledge, so the control plane stops asking.
        record = {
          reservation: { id } as AgentReservation,
          status: "decommissioned",
          workload: { kind: "none" },
          deletedSent: false,
          updatedAt: "",
        };
        await this.#d.cache.put(record);
        return;
      }
      if (record.status === "decommissioned") return;
      record.status = "stopping";
      record.stoppedBy ??= reason;
      await this.#d.cache.put(record);
      const w = record.workload;
      if (w.kind === "process" && w.pid > 0) {
        const code = await stopProcess(w, w.grace);
        if (!record.result)
          record.result = this.#report("ok", "", { exitCode: code, stoppedBy: record.stoppedBy });
      } else if (w.kind === "container" && this.#d.docker) {
        const code = await this.#d.docker.stop(w.name, w.grace, true, w.logsPid);
        if (!record.result)
          record.result = this.#report("ok", "", { exitCode: code, stoppedBy: record.stoppedBy });
      } else if (w.kind === "volume") {
        await rm(w.path, { recursive: true, force: true });
      } else if (w.kind === "app") {
        await this.#stopPrograms(w, w.grace);
        await this.#leaveNetwork(id, w);
      }
      if (reason !== "agent-exit") {
        // The workload has stopped: its secret files go (they are in memory: a reboot took them anyway),
        // with those of the reservations its programs were adopted from.
        await removeSecrets(id).catch(() => {});
        if (w.kind === "app")
          for (const home of new Set(w.programs.map((p) => p.secretsOf)))
            if (home && home !== id) await removeSecrets(home).catch(() => {});

        record.status = "decommissioned";
        record.deletedSent = false;
      } else record.status = "finished";
      await this.#d.cache.put(record);
      this.#d.log.info("decommissioned", { reservation: id, reason });
    });
  }

  /** The control plane's limits, from its poll answers: output batches are cut under its body limit. */
  /**
   * Every application's status goes out again at the next tick, changed or not: after this agent started or
   * its polls did not get through for a while, the control plane may hold its deployments as `unknown`
   * (specs/applications.md §3) and learns their state from the next report.
   */
  reportAgain(): void {
    for (const r of this.#d.cache.all()) if (r.workload.kind === "app") r.appStatusSent = undefined;
  }

  limits(l: { bodyBytes: number } | undefined): void {
    if (!l) return;
    const budget = Math.max(MIN_BATCH_BYTES, l.bodyBytes - BODY_MARGIN_BYTES);
    if (budget === this.#advertised) return; // a budget halved after a 413 stays halved
    this.#advertised = budget;
    this.#outputBudget = budget;
  }

  /** One whole turn of the clock, local checks then reports (shutdown and tests wait for both). */
  async tick(): Promise<void> {
    await this.check();
    await this.report();
  }

  /**
   * The engine's clock until `signal` aborts: every `ms`, the local checks; the reports run beside it, so a
   * request that hangs never holds up an expiry (the clock keeps time while the control plane does not
   * answer). `onError` gets what a turn could not do (a RevokedError stops the agent).
   */
  async runClock(ms: number, signal: AbortSignal, onError: (err: unknown) => void): Promise<void> {
    while (!signal.aborted) {
      await this.check().catch(onError);
      this.report().catch(onError);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        }
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  /**
   * The clock's local half: finds workloads that ended, and decommissions what expired (its own clock,
   * even with the control plane unreachable). Makes no request.
   */
  async check(): Promise<void> {
    const now = this.#now();
    for (const record of this.#d.cache.all()) {
      const id = record.reservation.id;
      if (this.#busy.has(id)) continue;
      if (record.status === "running") await this.#supervise(record);
      if (record.status === "running" && record.lab && !record.lab.ready) await this.#probeLab(record);
      if (
        (record.status === "running" || record.status === "finished") &&
        record.reservation.created &&
        isExpired(record.reservation, now)
      ) {
        void this.decommission(id, "expiry");
      }
    }
  }

  /**
   * The clock's reporting half: sends what the control plane does not have yet, for every reservation.
   * One pass at a time: a call while a pass runs joins it.
   */
  report(): Promise<void> {
    this.#reporting ??= (async () => {
      for (const record of this.#d.cache.all()) {
        if (this.#busy.has(record.reservation.id)) continue;
        await this.#ship(record);
      }
    })().finally(() => {
      this.#reporting = undefined;
    });
    return this.#reporting;
  }

  /** When each lab was last probed (in memory: a restarted agent probes again at once). */
  readonly #probedAt = new Map<string, number>();

  /** A lab not yet ready: probed every PROBE_EVERY_MS until it answers; then its `ready` goes out. */
  async #probeLab(record: CacheRecord): Promise<void> {
    const lab = record.lab!;
    const id = record.reservation.id;
    if (!lab.hostPort || Date.now() - (this.#probedAt.get(id) ?? 0) < PROBE_EVERY_MS) return;
    this.#probedAt.set(id, Date.now());
    if (!(await answers(lab.hostPort, lab.path, lab.timeoutSeconds))) return;
    lab.ready = true;
    this.#probedAt.delete(id);
    await this.#d.cache.put(record);
    void this.report();
  }

  /** A lab's pull progress, sent as it comes (best effort: a lost one is followed by the next). */
  #labPulling(id: string, message: string): void {
    this.#d.client
      .status(id, { state: "pulling", message })
      .catch((e: Error) =>
        this.#d.log.warn("could not report a lab's pull progress", { reservation: id, error: e.message }),
      );
  }

  /** A running workload that ended: its result is recorded (and goes out after its output, see #ship). */
  async #supervise(record: CacheRecord): Promise<void> {
    const w = record.workload;
    if (w.kind === "app") return this.#superviseApp(record, w);
    let code: number | undefined;
    if (w.kind === "process") {
      code = await exitStatus(w.dir);
      if (code === undefined && !(await isAlive(w.pid, w.startTicks))) {
        // SIGKILL takes the wrapper too, so no exit status is written: the agent knows when it may have sent
        // one (a kill, or a stop, removal or expiry whose grace period ran out).
        if (record.stoppedBy && record.stoppedBy !== "agent-exit") code = 137;
        else {
          record.status = "finished";
          record.result = this.#report(
            "error",
            "the process ended without an exit status (was it killed outside the agent?)",
            {},
          );
          await this.#d.cache.put(record);
          return;
        }
      }
    } else if (w.kind === "container" && this.#d.docker) {
      const s = await this.#d.docker.status(w.name, w.logsPid);
      if (s.state === "exited") code = s.code;
      if (s.state === "missing") {
        record.status = "finished";
        record.result = this.#report("error", "the container disappeared", {});
        await this.#d.cache.put(record);
        return;
      }
    }
    if (code === undefined) return;
    record.status = "finished";
    record.result ??= this.#report("ok", "", {
      exitCode: code,
      ...(record.stoppedBy ? { stoppedBy: record.stoppedBy } : {}),
    });
    await this.#d.cache.put(record);
  }

  /**
   * An application's programs: one that ended is started again as its restart policy says (after a backoff
   * that doubles up to a minute), or stays `exited`/`failed`. Its reservation runs on either way: it ends only
   * when the control plane removes it.
   */
  async #superviseApp(record: CacheRecord, w: Extract<CacheRecord["workload"], { kind: "app" }>) {
    const data = RESERVATION_DATA.application.parse(JSON.parse(record.reservation.data));
    let changed = false;
    for (const p of w.programs) {
      const spec = data.containers.find((c) => c.name === p.name);
      if (!spec) continue;
      if (p.container) {
        if (await this.#superviseContainer(p, p.container, spec.restartPolicy)) changed = true;
        continue;
      }
      if (p.state === "running") {
        const code = await programEnded(p);
        if (code === undefined) continue;
        p.exitCode = code;
        const next = afterExit(spec.restartPolicy, code, p.restartCount);
        p.state = next === "restart" ? "pending" : next;
        p.message = `exited with code ${code}`;
        if (next === "restart") p.nextStartAt = Date.now() + restartBackoffMs(p.restartCount);
        changed = true;
        this.#d.log.info("application program ended", {
          reservation: record.reservation.id,
          program: p.name,
          exitCode: code,
          restart: next === "restart",
        });
      } else if (p.state === "pending" && (p.nextStartAt ?? 0) <= Date.now()) {
        try {
          const opened = await openSecrets(
            this.#d.keys.encryption,
            this.#d.machineId,
            record.reservation.id,
            spec,
            {
              kind: "process",
              subdir: p.name,
              under: p.secretsOf ?? record.reservation.id,
            },
          );
          const env = {
            ...spec.env,
            ...opened.env,
            ...(opened.dir ? { BERTH_SECRETS_DIR: opened.dir } : {}),
          };
          Object.assign(
            p,
            await startProgram(record.reservation.id, spec, env, this.#d.paths.workloads, w.grace),
          );
          p.state = "running";
          p.restartCount += 1;
          p.startedAt = this.#now().toISOString();
          p.message = "";
          p.nextStartAt = undefined;
        } catch (err) {
          p.message = (err as Error).message;
          p.nextStartAt = Date.now() + restartBackoffMs(p.restartCount + 1);
        }
        changed = true;
      }
    }
    if (changed) await this.#d.cache.put(record);
  }

  /**
   * Carries out a reboot once its record is on disk: tells the control plane it started (and sends what
   * else it owes: results, output), then runs `systemctl reboot` (or --reboot-command). A command that
   * fails ends the operation `failed`; one that succeeds takes the machine down, and the agent reports
   * `done` after the boot (see recover).
   */
  async #reboot(id: string): Promise<void> {
    while (this.#busy.has(id)) await this.#busy.get(id);
    await this.report().catch(() => {});
    const command = this.#d.reboot?.command;
    this.#d.log.warn("rebooting the machine, as the control plane asked", { operation: id });
    const res = await run("sh", ["-c", command ?? "systemctl reboot"], { timeoutMs: 120_000 }).catch(
      (err: Error) => ({ code: -1, stdout: "", stderr: err.message }),
    );
    if (res.code === 0) return;
    const record = this.#d.cache.get(id);
    if (record?.status !== "running") return;
    record.status = "finished";
    record.result = this.#report(
      "error",
      `failed: the reboot command exited with ${res.code}: ${res.stderr.trim().slice(-500) || "no message"}`,
      {},
    );
    await this.#d.cache.put(record);
    this.#d.log.error("the reboot command failed", { operation: id, code: res.code });
  }

  /**
   * An application container, as Docker runs it (Docker applies its restart policy): its state, restarts and
   * exit code from `docker inspect`, and a new log follower once a restart ended the last one (reading from
   * the new run's start). Returns whether anything changed.
   */
  async #superviseContainer(
    p: AppProgram,
    name: string,
    policy: Parameters<typeof containerState>[1],
  ): Promise<boolean> {
    const docker = this.#d.docker;
    if (!docker) return false;
    const s = await docker.appState(name);
    if (s.problem !== undefined) return false; // Docker did not answer: nothing is known
    const before = JSON.stringify(p);
    p.state = containerState(s, policy);
    p.restartCount = s.restartCount;
    if (s.status === "exited" || s.status === "dead") {
      p.exitCode = s.exitCode;
      p.message = `exited with code ${s.exitCode}`;
    } else if (s.status === undefined) p.message = "the container is gone (removed outside the agent?)";
    else if (p.state === "running") {
      p.message = "";
      if (s.startedAt) p.startedAt = s.startedAt;
    }
    const followed = s.status === "running" && (await docker.following(p.logsPid, name));
    if (followed) p.followedRun ??= s.startedAt;
    if (s.status === "running" && !followed) {
      // A new run (a restart ended the last follower): from its start. The same run (the follower went with
      // an agent restart): from now, not the whole run again.
      const since = s.startedAt && s.startedAt !== p.followedRun ? s.startedAt : this.#now().toISOString();
      p.logsPid = docker.followLogs(name, p.dir, since);
      p.followedRun = s.startedAt;
    }
    return JSON.stringify(p) !== before;
  }

  /**
   * Starts the containers of an application (applications.md §4): its bridge network first (mode `bridge`),
   * then each container with its secrets (an env file deleted once `docker run` has read it, files mounted
   * read-only) and Docker's restart policy. Each is recorded as it starts: a failure stops those before it.
   */
  async #startAppContainers(
    id: string,
    data: ReturnType<typeof RESERVATION_DATA.application.parse>,
    docker: DockerRuntime,
    programs: AppProgram[],
    values: string[],
    save: () => Promise<void>,
  ): Promise<void> {
    const appId = data.application.id;
    if (data.containers.some((c) => (c.networkMode ?? "bridge") === "bridge"))
      await docker.ensureNetwork(appNetworkName(appId), appId);
    for (const c of data.containers) {
      const opened = await openSecrets(this.#d.keys.encryption, this.#d.machineId, id, c, {
        kind: "container",
        user: c.user,
        subdir: c.name,
      });
      values.push(...opened.values);
      const config = await dockerConfig(this.#d.keys.encryption, this.#d.machineId, id, c.name, c.auth).catch(
        async (err) => {
          await removeEnvFile(opened.envFile);
          throw err;
        },
      );
      values.push(...(config?.values ?? []));
      const name = appContainerName(appId, c.name);
      const program: AppProgram = {
        name: c.name,
        pid: 0,
        secretsOf: id,
        container: name,
        dir: join(this.#d.paths.workloads, id, c.name),
        state: "pending",
        restartCount: 0,
        message: "",
      };
      programs.push(program);
      // On disk before `docker run`: an agent cut short here stops it at its next start (recover).
      await save();
      const { logsPid } = await docker
        .startApp(
          id,
          {
            ...c,
            image: c.image!,
            mounts: c.mounts ?? [],
            stopGracePeriodSeconds: data.stopGracePeriodSeconds,
          },
          program.dir,
          opened,
          {
            name,
            applicationId: appId,
            restartPolicy: c.restartPolicy,
            network: networkOf(appId, c.networkMode),
            ...(config ? { dockerConfig: config.dir } : {}),
            hostname: c.hostname,
            privileged: c.privileged,
            capAdd: c.capAdd,
            capDrop: c.capDrop,
            shmSizeBytes: c.shmSizeBytes,
            memoryBytes: c.memoryBytes,
            forcePull: c.forcePull,
            pullTimeoutSeconds: c.pullTimeoutSeconds,
          },
        )
        .finally(() => Promise.all([removeEnvFile(opened.envFile), removeDockerConfig(config?.dir)]));
      program.logsPid = logsPid;
      program.startedAt = this.#now().toISOString();
      await save();
    }
  }

  /**
   * The reservation a successor supersedes is not known here (its record lost with the agent's data, or it
   * was never received): whatever of the application still runs on this device goes before the successor
   * is applied. Its other reservations recorded here are stopped; containers labelled with the application
   * that no record names (a container the new spec no longer has, say) are removed.
   */
  async #clearApplication(id: string, data: ReturnType<typeof RESERVATION_DATA.application.parse>) {
    const appId = data.application.id;
    for (const other of this.#d.cache.all())
      if (
        other.reservation.id !== id &&
        other.workload.kind === "app" &&
        other.workload.appId === appId &&
        other.status !== "decommissioned"
      )
        await this.decommission(other.reservation.id, "removal");
    if (data.kind !== "container" || !this.#d.docker) return;
    const removed = await this.#d.docker.removeApplication(appId);
    if (removed.length > 0)
      this.#d.log.info("removed containers of the application no record names", {
        reservation: id,
        containers: removed,
      });
  }

  /** Stops an application's programs or containers (SIGTERM or `docker stop`, then the grace period). */
  async #stopPrograms(w: Extract<CacheRecord["workload"], { kind: "app" }>, grace: number): Promise<void> {
    await Promise.all(
      w.programs.map(async (p) => {
        if (p.container) {
          if (this.#d.docker) await this.#d.docker.stop(p.container, grace, true, p.logsPid);
        } else if (p.pid > 0) await stopProcess(p, grace);
      }),
    );
  }

  /** The application's last reservation on this device is gone: its bridge network goes too. */
  async #leaveNetwork(id: string, w: Extract<CacheRecord["workload"], { kind: "app" }>): Promise<void> {
    const appId = w.appId;
    if (!this.#d.docker || !w.programs.some((p) => p.container)) return;
    const others = this.#d.cache
      .all()
      .some(
        (r) =>
          r.reservation.id !== id &&
          r.workload.kind === "app" &&
          r.workload.appId === appId &&
          r.status !== "decommissioned",
      );
    if (!others) await this.#d.docker.removeNetwork(appNetworkName(appId));
  }

  /**
   * A reservation that supersedes another (applications.md §4): one with the same spec hash takes over the
   * running programs as they are (a renewal, a change of scheduling: no restart) and the old one is left to be
   * acknowledged; any other first stops the old one (recreate, never surge: ports and GPUs would collide).
   */
  async #adopt(
    r: AgentReservation,
    data: ReturnType<typeof RESERVATION_DATA.application.parse>,
    record: CacheRecord,
  ): Promise<boolean> {
    if (!data.supersedes) return false;
    const old = this.#d.cache.get(data.supersedes);
    if (!old) {
      await this.#clearApplication(r.id, data);
      return false;
    }
    if (old.status === "decommissioned") return false;
    const w = old.workload;
    if (w.kind === "app" && w.specHash === data.application.specHash && old.status === "running") {
      // What the old reservation had of the output goes under it first (a batch in flight included): the
      // new one ships from there, so no line is sent under both (only if the control plane cannot be
      // reached now, the unacknowledged batch may be). The old one is held meanwhile: no report of it
      // runs beside this one, and none starts after it (its output is done with).
      await this.#exclusive(old.reservation.id, async () => {
        while (this.#shipping.has(old.reservation.id)) await new Promise((r) => setTimeout(r, 20));
        if (old.output)
          await this.#shipOutput(old.reservation.id, old, Date.now() + ADOPT_FLUSH_MS).catch(() => undefined);
        old.output = undefined;
        old.outputInFlight = undefined;
      });
      record.workload = w;
      record.status = "running";
      // The programs' output goes on under the new reservation, from where the old one had shipped it.
      record.output = { seq: 1, stdout: 0, stderr: 0 };
      old.workload = { kind: "none" };
      old.status = "decommissioned";
      old.deletedSent = false;
      await this.#d.cache.put(old);
      const values = this.#secrets.get(old.reservation.id);
      if (values) this.#secrets.set(r.id, values);
      this.#d.log.info("adopted the programs of the reservation this one supersedes", {
        reservation: r.id,
        supersedes: old.reservation.id,
      });
      return true;
    }
    await this.decommission(old.reservation.id, "removal");
    return false;
  }

  /**
   * Sends what the control plane does not have yet: the start, output, the result, `deleted`. Output goes
   * before the result, but an ended workload's result waits for it only briefly and never on a failure:
   * it then goes out marked `outputPending`, and the output follows, closed by a `last` request.
   */
  async #ship(record: CacheRecord): Promise<void> {
    const id = record.reservation.id;
    this.#shipping.add(id);
    try {
      await this.#shipOnce(record);
    } finally {
      this.#shipping.delete(id);
    }
  }

  async #shipOnce(record: CacheRecord): Promise<void> {
    const id = record.reservation.id;
    if ((this.#retryAt.get(id) ?? 0) > Date.now()) return;
    try {
      const w = record.workload;
      const network = record.network ? JSON.stringify(record.network) : undefined;
      if (record.startedSent === false) {
        await this.#d.client.status(id, {
          state: "running",
          ...(w.kind === "process" ? { pid: w.pid } : {}),
          ...(record.lab?.hostPort ? { hostPort: record.lab.hostPort } : {}),
          ...(record.network ? { network: record.network } : {}),
        });
        record.startedSent = true;
        record.networkSent = network;
        await this.#d.cache.put(record);
      } else if (network && network !== record.networkSent && record.status === "running") {
        // A restart found the container's network changed (Docker restarted it): the control plane learns it.
        await this.#d.client.status(id, { state: "running", network: record.network });
        record.networkSent = network;
        await this.#d.cache.put(record);
      }
      if (record.lab?.ready && !record.lab.readySent && record.status === "running") {
        await this.#d.client.status(id, { state: "ready", hostPort: record.lab.hostPort });
        record.lab.readySent = true;
        await this.#d.cache.put(record);
      }
      if (w.kind === "app" && record.status === "running") {
        const containers = w.programs.map((p) => ({
          name: p.name,
          state: p.state,
          message: p.message,
          restartCount: p.restartCount,
          ...(p.exitCode === undefined ? {} : { exitCode: p.exitCode }),
          ...(p.startedAt ? { startedAt: p.startedAt } : {}),
        }));
        const text = JSON.stringify(containers);
        if (text !== record.appStatusSent) {
          await this.#d.client.status(id, { state: "running", containers });
          record.appStatusSent = text;
          await this.#d.cache.put(record);
        }
      }
      const hasOutput =
        record.output !== undefined && (w.kind === "process" || w.kind === "container" || w.kind === "app");
      // A running process or container has no result yet (and its output may grow).
      const ended = !(record.status === "running" && (w.kind === "process" || w.kind === "container"));
      const resultDue = record.result !== undefined && !record.result.sent && ended;
      // A pass ships for a while, not forever: output that keeps coming does not starve the others.
      const output = hasOutput
        ? await this.#shipOutput(id, record, Date.now() + OUTPUT_PASS_MS)
        : { done: true };
      if (resultDue && record.result) {
        await this.#sendResult(id, record.result, !output.done);
        record.result.sent = true;
        record.result.outputPending = !output.done;
        await this.#d.cache.put(record);
      }
      if (output.error) throw output.error;
      if (record.result?.sent && record.result.outputPending && output.done && ended) {
        await this.#d.client.output(id, [], true).catch((err) => {
          // 404: the reservation is gone; 400: a control plane that keeps no such mark. Either way: done.
          if (!(err instanceof RejectedError && (err.status === 404 || err.status === 400))) throw err;
        });
        record.result.outputPending = false;
        await this.#d.cache.put(record);
      }
      if (
        record.status === "decommissioned" &&
        record.deletedSent === false &&
        !record.result?.outputPending
      ) {
        await this.#d.client.deleted(id).catch((err) => {
          if (!(err instanceof RejectedError && err.status === 404)) throw err;
        });
        record.deletedSent = true;
        // Its output went out masked, all of it (nothing is pending); the files hold it as printed, values and
        // all: they go now.
        if (this.#secretValues(record).length > 0 && (w.kind === "process" || w.kind === "container"))
          for (const name of ["stdout", "stderr"])
            await rm(join(w.dir, name), { force: true }).catch(() => {});
        this.#secrets.delete(id);
        await this.#d.tombstones?.add(id, record.reservation);
        await this.#d.cache.drop(id);
      }
      this.#retryAt.delete(id);
    } catch (err) {
      if (err instanceof RevokedError) throw err;
      const attempts = (this.#retryAt.has(id) ? 2 : 1) * 1000;
      this.#retryAt.set(id, Date.now() + attempts + Math.random() * 2000);
      this.#d.log.warn("could not report; will retry", { reservation: id, error: (err as Error).message });
    }
  }

  /**
   * Ships a workload's output in batches under the control plane's body limit, until the files hold no
   * more (done), `deadline` passes, or a request fails for now (`error`: retried later, from the same batch).
   * A 413 is never sent again as it was: the batch is cut again at half the size. A batch the control plane
   * refuses for good (another 4xx) is logged and stepped over rather than wedging everything after it.
   */
  /**
   * The secret values a workload was given, to mask in its output: kept from the apply, or opened again from
   * the cached (sealed) reservation after an agent restart. None when they do not open.
   */
  #secretValues(record: CacheRecord): string[] {
    const id = record.reservation.id;
    const known = this.#secrets.get(id);
    if (known) return known;
    let values: string[] = [];
    if (record.reservation.type === "process" || record.reservation.type === "container") {
      const data = RESERVATION_DATA[record.reservation.type].safeParse(JSON.parse(record.reservation.data));
      if (data.success) values = openedValues(this.#d.keys.encryption, this.#d.machineId, id, data.data);
    } else if (record.reservation.type === "application") {
      const data = RESERVATION_DATA.application.safeParse(JSON.parse(record.reservation.data));
      if (data.success)
        values = data.data.containers.flatMap((c) =>
          openedValues(this.#d.keys.encryption, this.#d.machineId, id, c),
        );
    }
    this.#secrets.set(id, values);
    return values;
  }

  /**
   * Ships a workload's output: one directory's, or each program's of an application (its chunks name the
   * program; the reservation numbers them all). A batch sent once and not acknowledged goes again first.
   */
  async #shipOutput(
    id: string,
    record: CacheRecord,
    deadline: number,
  ): Promise<{ done: boolean; error?: Error }> {
    const w = record.workload;
    if (w.kind !== "app") return this.#shipOutputOf(id, record, deadline);
    const again = record.outputInFlight?.container;
    const programs = [...w.programs].sort((a, b) => Number(b.name === again) - Number(a.name === again));
    for (const p of programs) {
      const shipped = await this.#shipOutputOf(id, record, deadline, p);
      if (!shipped.done || shipped.error || !record.output) return shipped;
    }
    return { done: true };
  }

  /** Frees the disk of output already shipped, every RELEASE_SHIPPED_BYTES of a file (its offsets stay). */
  async #releaseShipped(
    record: CacheRecord,
    dir: string,
    shipped: OutputPosition,
    owner: { released?: { stdout: number; stderr: number } },
  ): Promise<void> {
    for (const stream of ["stdout", "stderr"] as const) {
      const from = owner.released?.[stream] ?? 0;
      if (shipped[stream] - from < RELEASE_SHIPPED_BYTES) continue;
      const to = await releaseShipped(join(dir, stream), shipped[stream]);
      owner.released = { stdout: 0, stderr: 0, ...owner.released, [stream]: to };
      await this.#d.cache.put(record);
    }
  }

  /** Ships output of one directory (a program's, or the workload's) until it is all out or the deadline. */
  async #shipOutputOf(
    id: string,
    record: CacheRecord,
    deadline: number,
    program?: AppProgram,
  ): Promise<{ done: boolean; error?: Error }> {
    const dir = program?.dir ?? (record.workload as { dir: string }).dir;
    const at = (): OutputPosition =>
      program
        ? { seq: record.output!.seq, ...(program.shipped ?? { stdout: 0, stderr: 0 }) }
        : record.output!;
    const save = (to: OutputPosition) => {
      if (!program) record.output = to;
      else {
        record.output = { ...record.output!, seq: to.seq };
        program.shipped = { stdout: to.stdout, stderr: to.stderr };
      }
    };
    while (record.output) {
      if (Date.now() >= deadline) return { done: false };
      const sent = record.outputInFlight;
      const inFlight = sent && sent.container === program?.name ? sent : undefined;
      const budget = inFlight?.budget ?? this.#outputBudget;
      const values = this.#secretValues(record);
      const mask = values.length ? { values, final: record.status !== "running" } : undefined;
      const batch = await nextOutput(dir, at(), budget, inFlight?.to, mask);
      if (program) for (const c of batch.chunks) c.container = program.name;
      if (batch.chunks.length === 0) {
        if (inFlight) {
          record.outputInFlight = undefined;
          await this.#d.cache.put(record);
        }
        await this.#releaseShipped(record, dir, at(), program ?? record);
        return { done: true };
      }
      if (!inFlight) {
        record.outputInFlight = {
          to: batch.to,
          budget,
          ...(program ? { container: program.name } : {}),
        };
        await this.#d.cache.put(record);
      }
      try {
        await this.#d.client.output(id, batch.chunks);
      } catch (err) {
        if (err instanceof RevokedError) throw err;
        if (!(err instanceof RejectedError)) return { done: false, error: err as Error };
        if (err.status === 404) {
          // The reservation is gone: nobody will read its output.
          record.output = undefined;
          record.outputInFlight = undefined;
          await this.#d.cache.put(record);
          return { done: true };
        }
        if (err.status === 413 && budget > MIN_BATCH_BYTES) {
          // Nothing of it was stored: cut it again, smaller.
          this.#outputBudget = Math.max(MIN_BATCH_BYTES, Math.floor(budget / 2));
          this.#d.log.info("output batch too large for the control plane; sending smaller ones", {
            reservation: id,
            bytes: this.#outputBudget,
          });
          record.outputInFlight = undefined;
          await this.#d.cache.put(record);
          continue;
        }
        this.#d.log.error("the control plane refused a batch of output; skipping it", {
          reservation: id,
          seqs: `${batch.chunks[0]!.seq}-${batch.chunks.at(-1)!.seq}`,
          error: err.message,
        });
      }
      save(batch.to);
      record.outputInFlight = undefined;
      await this.#d.cache.put(record);
      // Also while output keeps coming faster than a pass ships it (the pass then never finds it caught up).
      await this.#releaseShipped(record, dir, at(), program ?? record);
    }
    return { done: true };
  }

  /**
   * A control operation on a running workload (suspend, resume, stop, kill), acted on only if the control
   * plane's signature verifies. Its effect shows in the workload's exit (a stop's 143, a kill's 137).
   */
  async #control(r: AgentReservation): Promise<void> {
    const c = r.control!;
    if (c.action === "sample") return this.#sample(r);
    const verified = this.#v2
      ? c.seq !== undefined &&
        verifyControlV2(
          {
            id: r.id,
            nodeId: r.nodeId,
            action: c.action,
            seq: c.seq,
            issuedAt: c.issuedAt,
            signature: c.signature,
          },
          this.#d.controlPlaneKey,
        )
      : verifyControl({ id: r.id, ...c }, this.#d.controlPlaneKey);
    if (!verified) {
      this.#d.log.warn("refusing a control operation whose signature does not verify", {
        reservation: r.id,
        action: c.action,
      });
      return;
    }
    const record = this.#d.cache.get(r.id);
    if (record?.status !== "running") return; // nothing running to act on (it may have just ended)
    if (this.#v2) {
      // Controls come in feed order: one at or before the last applied is a replay (a suspend after a resume).
      if (c.seq! <= (record.lastControlSeq ?? 0)) {
        this.#d.log.warn("ignoring a control older than the last one applied", {
          reservation: r.id,
          action: c.action,
          seq: c.seq,
        });
        return;
      }
      record.lastControlSeq = c.seq;
      await this.#d.cache.put(record);
    }
    const w = record.workload;
    this.#d.log.info("control", { reservation: r.id, action: c.action });
    if (c.action === "stop" || c.action === "kill") {
      record.stoppedBy = c.action;
      await this.#d.cache.put(record);
    }
    if (w.kind === "process") {
      if (c.action === "suspend") signalGroup(w.pid, "SIGSTOP");
      else if (c.action === "resume") signalGroup(w.pid, "SIGCONT");
      else if (c.action === "kill") signalGroup(w.pid, "SIGKILL");
      else void this.#exclusive(r.id, async () => void (await stopProcess(w, w.grace)));
    } else if (w.kind === "container" && this.#d.docker) {
      const docker = this.#d.docker;
      if (c.action === "suspend") await docker.signal(w.name, "pause");
      else if (c.action === "resume") await docker.signal(w.name, "unpause");
      else if (c.action === "kill") await docker.signal(w.name, "kill");
      else void this.#exclusive(r.id, async () => void (await docker.stop(w.name, w.grace, false)));
    }
  }

  /** A sampling lease's control: verified (protocol 2 only), then the workload is sampled until its end. */
  #sample(r: AgentReservation): void {
    const c = r.control!;
    const verified =
      this.#v2 &&
      c.seq !== undefined &&
      c.intervalSeconds !== undefined &&
      c.until !== undefined &&
      verifySampleV2(
        {
          id: r.id,
          nodeId: r.nodeId,
          seq: c.seq,
          issuedAt: c.issuedAt,
          intervalSeconds: c.intervalSeconds,
          until: c.until,
          signature: c.signature,
        },
        this.#d.controlPlaneKey,
      );
    if (!verified) {
      this.#d.log.warn("refusing a sample control whose signature does not verify", { reservation: r.id });
      return;
    }
    if (!this.#sampleTarget(r.id)) return; // nothing running for it (it may have just ended)
    this.#sampling.lease(r.id, c.intervalSeconds!, c.until!);
  }

  #report(state: "ok" | "error", error: string, data: unknown) {
    return { state, error, data: JSON.stringify(data), sent: false };
  }

  async #sendResult(
    id: string,
    report: { state: "ok" | "error"; error: string; data: string },
    outputPending = false,
  ) {
    const body = { id, state: report.state, error: report.error, data: report.data };
    const record = this.#d.cache.get(id);
    try {
      await this.#d.client.result(id, {
        ...body,
        type: record?.reservation.type ?? "debug",
        created: this.#now().toISOString(),
        signature: signResult(body, this.#d.keys.signing),
        ...(outputPending ? { outputPending } : {}),
      });
    } catch (err) {
      // 409: the control plane has a result already (ours, sent before a crash); 404: it is gone.
      if (err instanceof RejectedError && (err.status === 409 || err.status === 404)) return;
      throw err;
    }
  }

  /** For refusals that are not cached: one attempt, failures only logged. */
  async #sendResultNow(id: string, state: "ok" | "error", error: string) {
    await this.#sendResult(id, { state, error, data: "{}" }).catch((err: Error) => {
      if (err instanceof RevokedError) throw err;
      this.#d.log.warn("could not report a refusal", { reservation: id, error: err.message });
    });
  }

  /** On start: finds the workloads a previous run started, including one started just before a crash. */
  async recover(): Promise<void> {
    for (const record of this.#d.cache.all()) {
      const w = record.workload;
      if (w.kind === "operation" && record.status === "running") {
        // A reboot was under way: a new boot id says it happened.
        const now = await readBootId(this.#d.reboot?.bootIdFile);
        record.status = "finished";
        record.result =
          now !== w.bootId
            ? this.#report("ok", "", { rebooted: true, bootId: now })
            : this.#report("error", "failed: the machine did not reboot (its boot id is the same)", {});
        await this.#d.cache.put(record);
        this.#d.log.info(now !== w.bootId ? "back after the reboot" : "the reboot did not happen", {
          operation: record.reservation.id,
        });
        continue;
      }
      if (w.kind === "container" && record.status === "running") {
        await this.#rewriteSecrets(record);
        const network = await this.#d.docker?.network(w.name);
        if (network) {
          record.network = network;
          await this.#d.cache.put(record);
        }
      }
      if (w.kind === "app" && record.status === "running") await this.#restoreAppContainers(record, w);
      if (w.kind === "app" && record.status === "starting") {
        // Cut short while starting its programs: stop those it started; the boot sync offers it again.
        await this.#stopPrograms(w, 0);
        await this.#d.cache.drop(record.reservation.id);
        continue;
      }
      if (record.status !== "starting" || w.kind !== "process") continue;
      const pid = await recordedPid(w.dir);
      if (pid === undefined && (await exitStatus(w.dir)) === undefined) {
        await this.#d.cache.drop(record.reservation.id); // never started: the boot sync offers it again
        continue;
      }
      record.workload = { ...w, pid: pid ?? 0, startTicks: pid ? await startTicks(pid) : undefined };
      record.status = "running";
      record.output ??= { seq: 1, stdout: 0, stderr: 0 };
      await this.#d.cache.put(record);
      this.#d.log.info("re-attached to a workload started before a restart", {
        reservation: record.reservation.id,
      });
    }
  }

  /**
   * A container's secret files again, opened from the sealed values in the cache: after a reboot the tmpfs is
   * empty, and a container Docker restarts (or the agent re-attaches to) must find them (secrets.md §5.5).
   * Written whether or not they are still there: the same bytes, so nothing changes for a container reading
   * them. A value that no longer opens is logged; the container's mounts then fail and Docker retries.
   */
  async #rewriteSecrets(record: CacheRecord): Promise<void> {
    const r = record.reservation;
    const parsed = RESERVATION_DATA.container.safeParse(JSON.parse(r.data));
    if (!parsed.success || parsed.data.secretFiles.length === 0) return;
    try {
      const opened = await openSecrets(this.#d.keys.encryption, this.#d.machineId, r.id, parsed.data, {
        kind: "container",
        user: parsed.data.user,
      });
      await removeEnvFile(opened.envFile);
      this.#d.log.info("secret files written again for a container", {
        reservation: r.id,
        files: parsed.data.secretFiles.length,
      });
    } catch (err) {
      this.#d.log.warn("could not write a container's secret files again", {
        reservation: r.id,
        error: (err as Error).message,
      });
    }
  }

  /**
   * An application's containers after a reboot: their secret files are gone with the tmpfs, so Docker's
   * restart of each one that mounts them failed at boot. The files are written again (from the sealed values
   * in the cache), then each container that was running and is not is started again (its restart policy says
   * it should run: `docker start`). Containers without secret files Docker restarted by itself.
   */
  async #restoreAppContainers(record: CacheRecord, w: Extract<CacheRecord["workload"], { kind: "app" }>) {
    const docker = this.#d.docker;
    const r = record.reservation;
    const parsed = RESERVATION_DATA.application.safeParse(JSON.parse(r.data));
    if (!docker || !parsed.success || parsed.data.kind !== "container") return;
    for (const c of parsed.data.containers) {
      const program = w.programs.find((p) => p.name === c.name && p.container);
      // Where the container was started: an adopted one mounts its first reservation's directory.
      const home = program?.secretsOf ?? r.id;
      if (!program || c.secretFiles.length === 0 || (await secretFilesThere(home, c.name))) continue;
      try {
        const opened = await openSecrets(this.#d.keys.encryption, this.#d.machineId, r.id, c, {
          kind: "container",
          user: c.user,
          subdir: c.name,
          under: home,
        });
        await removeEnvFile(opened.envFile);
      } catch (err) {
        this.#d.log.warn("could not write an application container's secret files again", {
          reservation: r.id,
          container: program.container,
          error: (err as Error).message,
        });
        continue;
      }
      const state = await docker.appState(program.container!);
      const wanted = c.restartPolicy.name !== "no" && program.state === "running";
      if (wanted && (state.status === "exited" || state.status === "created")) {
        const problem = await docker.startAgain(program.container!);
        this.#d.log.info(
          problem
            ? "could not start an application container again after its secret files were restored"
            : "started an application container again after restoring its secret files",
          { reservation: r.id, container: program.container, ...(problem ? { error: problem } : {}) },
        );
      }
    }
  }

  /** With --stop-workloads-on-exit: stops every running workload (their results still go out). */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.#d.cache
        .all()
        .filter((r) => r.status === "running")
        .map((r) => this.decommission(r.reservation.id, "agent-exit")),
    );
  }
}

/** This boot's id (Linux: /proc/sys/kernel/random/boot_id); "" where there is none. */
async function readBootId(file = "/proc/sys/kernel/random/boot_id"): Promise<string> {
  return (await readFile(file, "utf8").catch(() => "")).trim();
}
