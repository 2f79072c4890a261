import { z } from "zod";
import { readIfExists } from "../shared/adapters/local/data-dir.ts";
import { keys } from "../shared/adapters/repositories/keys.ts";
import { newServerSecret } from "../shared/domain/secrets.ts";
import { c, type Store } from "../shared/ports/store.ts";

const Secret = z.object({ value: z.string().min(32) });

/**
 * The root secret (page tokens, session tokens, the reservation signing key) of a self-hosted control plane.
 * It is kept in the database, so that every server sharing one database signs and verifies alike, and a
 * backup (export) restores working tokens. A data dir made by an earlier version kept it in a file: that
 * value is adopted on first start, so its agents' session tokens stay valid.
 */
export async function serverSecretOf(store: Store, legacyFile: string): Promise<string> {
  const key = keys.meta("server-secret");
  const stored = await store.get(key);
  if (stored) return Secret.parse(stored).value;
  const value = (await readIfExists(legacyFile)) ?? newServerSecret();
  // Two servers starting at once on an empty database: the first one's secret is everyone's.
  const out = await store.put({ ...key, value }, { if: c.absent() });
  return out.ok ? value : Secret.parse(out.current).value;
}
