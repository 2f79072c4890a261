import { readJson, writeAtomic } from "./files.ts";

/** How long a reservation whose expiry the agent does not know (a removal of one it never had) is kept. */
const UNKNOWN_EXPIRY_MS = 30 * 24 * 3600_000;
/** Kept past its expiry a while, for clocks that disagree. */
const SLACK_MS = 3600_000;

/**
 * The reservations the agent is done with (applied then removed, refused, or removed unseen), kept until
 * they expire, so that a replayed apply of one is never run again (protocol 2). One small file: id →
 * when it may be forgotten (epoch ms); expired ones are pruned whenever it is written.
 */
export class Tombstones {
  readonly #path: string;
  #ids = new Map<string, number>();

  constructor(path: string) {
    this.#path = path;
  }

  async load(now = Date.now()): Promise<void> {
    const stored = (await readJson<Record<string, number>>(this.#path)) ?? {};
    this.#ids = new Map(Object.entries(stored).filter(([, until]) => until > now));
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Remembers `id` until its reservation expires (`created` + `duration`), or a month when unknown. */
  async add(id: string, r?: { created?: string; duration?: number }, now = Date.now()): Promise<void> {
    const expiry =
      r?.created && r.duration !== undefined ? Date.parse(r.created) + r.duration * 1000 : Number.NaN;
    this.#ids.set(id, (Number.isFinite(expiry) ? expiry : now + UNKNOWN_EXPIRY_MS) + SLACK_MS);
    for (const [k, until] of this.#ids) if (until <= now) this.#ids.delete(k);
    await writeAtomic(this.#path, JSON.stringify(Object.fromEntries(this.#ids)));
  }
}
