import { z } from "zod";
import { UsageSample } from "../../domain/usage.ts";
import type { UsageRepository } from "../../ports/repositories/usage.ts";
import { c, type Store } from "../../ports/store.ts";
import { parseItem } from "./base.ts";
import { keys, ttlOf } from "./keys.ts";

const Stored = z.object({
  leaseUntil: z.iso.datetime().optional(),
  sample: UsageSample.optional(),
  sampledAt: z.iso.datetime().optional(),
});

/** Sampling leases and samples are kept a day after they were last written (garbage collection only). */
export function usageRepository(store: Store): UsageRepository {
  return {
    async get(reservationId) {
      const item = await store.get(keys.usage(reservationId));
      if (!item) return undefined;
      const { leaseUntil, sample } = parseItem(Stored, "reservation usage", item);
      return { leaseUntil, sample };
    },
    async takeLease(reservationId, until, renewBefore) {
      // Many followers renewing one lease: only the first of them takes it (and sends the agent its control).
      const out = await store.update(
        keys.usage(reservationId),
        { set: { leaseUntil: until, ttl: ttlOf(until, 1) } },
        { if: c.or(c.absent("leaseUntil"), c.lt("leaseUntil", renewBefore)) },
      );
      return out.ok;
    },
    async putSample(reservationId, sample) {
      const sampledAt = new Date(sample.sampledAt).toISOString();
      // Late or repeated batches: only a newer sample replaces the stored one.
      const out = await store.update(
        keys.usage(reservationId),
        { set: { sample: { ...sample, sampledAt }, sampledAt, ttl: ttlOf(sampledAt, 1) } },
        { if: c.or(c.absent("sampledAt"), c.lt("sampledAt", sampledAt)) },
      );
      return out.ok;
    },
  };
}
