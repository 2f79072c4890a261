import type { UsageSample } from "../../domain/usage.ts";

export interface StoredUsage {
  leaseUntil?: string;
  sample?: UsageSample;
}

/** A reservation's sampling lease and latest resource-use sample (`RES#<id>`/`USAGE`, specs/launcher-extras.md §1). */
export interface UsageRepository {
  get(reservationId: string): Promise<StoredUsage | undefined>;
  /**
   * Takes or renews the lease until `until`, only if there is none or it ends before `renewBefore`; false
   * when another follower holds one long enough (it sent the agent its sample control).
   */
  takeLease(reservationId: string, until: string, renewBefore: string): Promise<boolean>;
  /** Stores the sample if it is newer than the stored one; false otherwise. */
  putSample(reservationId: string, sample: UsageSample): Promise<boolean>;
}
