import { EXPIRY_SHARDS } from "../adapters/dynamo/reservation-repository.ts";
import { isExpired, isLive } from "../domain/reservation.ts";
import type { Logger } from "../ports/logger.ts";
import { type ReservationDeps, removeReservation } from "./reservations.ts";

/**
 * The expiry sweeper: finds live reservations past `created + duration` (strict) in the expiry index,
 * marks them `expired` and appends their removal entries. Safe to run in several places at once: each
 * removal is a conditional transition, so an overlapping sweeper finds the work done and moves on.
 * The index may lag behind a removal (it is a GSI), so each sweep handles an id at most once.
 * Returns how many reservations this sweep expired.
 */
export async function sweepExpired(deps: ReservationDeps & { logger: Logger }, batch = 100): Promise<number> {
  let expired = 0;
  const handled = new Set<string>();
  for (let shard = 0; shard < EXPIRY_SHARDS; shard++) {
    for (;;) {
      const now = deps.clock.now();
      const page = await deps.repos.reservations.expiring(shard, now.toISOString(), batch);
      const due = page.filter((r) => !handled.has(r.id) && isLive(r.state) && isExpired(r, now));
      for (const r of due) {
        handled.add(r.id);
        if ((await removeReservation(deps, r, "expired")).removed) expired++;
      }
      if (page.length < batch || due.length === 0) break;
    }
  }
  if (expired > 0) deps.logger.info("expired reservations", { count: expired });
  return expired;
}
