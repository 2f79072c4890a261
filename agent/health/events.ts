import { appendFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { EVENT_RETENTION_MS, type HealthEvent } from "../../shared/domain/gpu-health.ts";
import { privateDir, writeAtomic } from "../files.ts";

/**
 * The agent's health events (specs/gpu-health.md §4): `health/events.jsonl` in the data dir, one JSON event a
 * line, oldest first, kept 3 days. New events are appended in one write (O_APPEND), so a crash leaves whole
 * lines, at worst a torn last one that reading skips; pruning and set-healthy rewrite the file atomically
 * (temporary file, then rename). Events are idempotent by `id`.
 */

/** A health event as stored: GPUd's event plus what evolution needs (never sent: see `toHealthEvent`). */
export interface StoredEvent extends HealthEvent {
  /** The Xid or SXid code. */
  code?: number;
  /** The PCI address the kernel logged (`PCI:0000:18:00`). */
  pci?: string;
  /** The UUID of the GPU the PCI address belongs to, when it matched one. */
  gpuUuid?: string;
}

/** The component and name of GPUd's reboot events. */
export const REBOOT_EVENT = { component: "os", name: "reboot" } as const;

/** The wire form of a stored event: GPUd's fields and the id, nothing else. */
export const toHealthEvent = (e: StoredEvent): HealthEvent => ({
  id: e.id,
  component: e.component,
  time: e.time,
  name: e.name,
  type: e.type,
  message: e.message,
});

const byTime = (a: StoredEvent, b: StoredEvent) => Date.parse(a.time) - Date.parse(b.time);

/** `health/events.jsonl` under a data dir. Not safe for concurrent callers: the collector serialises them. */
export class EventLog {
  readonly path: string;
  readonly #dir: string;

  constructor(dataDir: string) {
    this.#dir = join(dataDir, "health");
    this.path = join(this.#dir, "events.jsonl");
  }

  /** Every stored event, oldest first; unparsable lines (a torn last append) are skipped. */
  async read(): Promise<StoredEvent[]> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const events: StoredEvent[] = [];
    const seen = new Set<string>();
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as StoredEvent;
        if (typeof e.id !== "string" || typeof e.time !== "string" || seen.has(e.id)) continue;
        seen.add(e.id);
        events.push(e);
      } catch {
        // a torn line from a crash mid-append: the rest of the file is whole
      }
    }
    return events.sort(byTime);
  }

  /**
   * Adds the events whose id is not stored yet and drops those older than the retention; answers what was
   * added. A re-read kernel buffer therefore adds nothing twice.
   */
  async add(events: StoredEvent[], now: Date): Promise<StoredEvent[]> {
    const stored = await this.read();
    const ids = new Set(stored.map((e) => e.id));
    const fresh: StoredEvent[] = [];
    for (const e of events) {
      if (ids.has(e.id)) continue;
      ids.add(e.id);
      fresh.push(e);
    }
    const cutoff = now.getTime() - EVENT_RETENTION_MS;
    const kept = stored.filter((e) => Date.parse(e.time) >= cutoff);
    await privateDir(this.#dir);
    if (kept.length < stored.length) {
      // Pruning rewrites; the new events go in the same atomic write.
      await this.#rewrite([...kept, ...fresh].sort(byTime));
    } else if (fresh.length > 0) {
      await appendFile(this.path, fresh.map((e) => `${JSON.stringify(e)}\n`).join(""), { mode: 0o600 });
    }
    return fresh;
  }

  /** Removes the events `drop` selects; answers how many. */
  async remove(drop: (e: StoredEvent) => boolean): Promise<number> {
    const stored = await this.read();
    const kept = stored.filter((e) => !drop(e));
    if (kept.length === stored.length) return 0;
    await privateDir(this.#dir);
    await this.#rewrite(kept);
    return stored.length - kept.length;
  }

  #rewrite(events: StoredEvent[]): Promise<void> {
    return writeAtomic(this.path, events.map((e) => `${JSON.stringify(e)}\n`).join(""));
  }
}
