import { readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { AgentReservation } from "../shared/contracts/reservations.ts";
import type { WorkloadNetwork } from "../shared/domain/job-network.ts";
import { readJson, writeAtomic } from "./files.ts";
import type { AppProgram } from "./runtimes/apps.ts";

/** How the agent ran something, enough to find it again after a restart. */
export type Workload =
  | { kind: "process"; pid: number; startTicks?: string; dir: string; grace: number }
  | { kind: "container"; name: string; dir: string; grace: number; logsPid?: number }
  | { kind: "volume"; path: string }
  /** A `process` application: its programs, supervised with their restart policies. */
  | { kind: "app"; appId: string; specHash: string; grace: number; programs: AppProgram[] }
  /** A reboot under way: the boot id it started in (another one after the restart: done). */
  | { kind: "operation"; bootId: string }
  | { kind: "none" };

export interface Report {
  state: "ok" | "error";
  error: string;
  data: string;
  sent: boolean;
  /** Sent before all of the output: the agent still owes the control plane its `last` output request. */
  outputPending?: boolean;
}

/**
 * One reservation the agent accepted, as kept on disk (cache/<id>.json). Written before a workload is
 * started, updated as it runs, so a restarted agent never starts it twice and still reports its end.
 */
export interface CacheRecord {
  reservation: AgentReservation;
  status: "starting" | "running" | "finished" | "stopping" | "decommissioned";
  workload: Workload;
  /** The result to send, and whether the control plane has it. */
  result?: Report;
  /** Whether the control plane knows the workload started (false: still to report). */
  startedSent?: boolean;
  /**
   * A lab's workload (specs/labs.md §5): the port it serves on, the host port it got, how to probe it, and
   * whether it answered and the control plane knows.
   */
  lab?: {
    port: number;
    path: string;
    timeoutSeconds: number;
    hostPort?: number;
    ready?: boolean;
    readySent?: boolean;
  };
  /** A container's IPs and published ports (`docker inspect`), and what of it the control plane has (JSON). */
  network?: WorkloadNetwork;
  networkSent?: string;
  /** Whether the control plane has our `deleted` acknowledgement (after a decommission). */
  deletedSent?: boolean;
  /** Output shipping position: next seq, and bytes already sent of each stream. */
  output?: { seq: number; stdout: number; stderr: number };
  /** How far each output file's shipped bytes have been freed from disk (releaseShipped). */
  released?: { stdout: number; stderr: number };
  /**
   * The batch being sent: where it ends and the budget it was cut with. Kept until the control plane has
   * it, so a retry (after a timeout or a crash) sends exactly the same chunks under the same seqs.
   */
  outputInFlight?: {
    to: { seq: number; stdout: number; stderr: number };
    budget: number;
    /** An application's: the program whose output the batch holds. */
    container?: string;
  };
  /** Why it was stopped, when the agent stopped it (`kill` and `stop` show in its exit code). */
  stoppedBy?: "removal" | "expiry" | "agent-exit" | "stop" | "kill";
  /** An application's program states as last reported (to report again only on a change). */
  appStatusSent?: string;
  /** The feed sequence of the last control applied (protocol 2): an older one is ignored. */
  lastControlSeq?: number;
  updatedAt: string;
}

export class ReservationCache {
  readonly #dir: string;
  readonly #records = new Map<string, CacheRecord>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Loads every record from disk (on start). */
  async load(): Promise<void> {
    for (const name of await readdir(this.#dir)) {
      if (!name.endsWith(".json")) continue;
      const record = await readJson<CacheRecord>(join(this.#dir, name));
      if (record) this.#records.set(record.reservation.id, record);
    }
  }

  get(id: string): CacheRecord | undefined {
    return this.#records.get(id);
  }

  has(id: string): boolean {
    return this.#records.has(id);
  }

  all(): CacheRecord[] {
    return [...this.#records.values()];
  }

  /** Persists a record (atomically) before returning: what the agent records survives a crash. */
  async put(record: CacheRecord): Promise<void> {
    record.updatedAt = new Date().toISOString();
    await writeAtomic(join(this.#dir, `${record.reservation.id}.json`), JSON.stringify(record));
    this.#records.set(record.reservation.id, record);
  }

  /** Forgets a record that is fully done (decommissioned and acknowledged). */
  async drop(id: string): Promise<void> {
    this.#records.delete(id);
    await unlink(join(this.#dir, `${id}.json`)).catch(() => {});
  }
}
