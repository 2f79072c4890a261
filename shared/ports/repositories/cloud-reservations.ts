import type { CloudChange, CloudReservation, CloudState } from "../../domain/cloud-reservation.ts";
import type { Saved, VersionedWrite, Write } from "./write.ts";

export interface CloudReservationRepository {
  /** Stores a new cloud reservation; fails on a taken id. */
  create(r: CloudReservation): Write;
  get(id: string): Promise<CloudReservation | undefined>;
  /** A change of `current` (a state transition, or other fields) if it is still at `current.version`. */
  update(current: CloudReservation, change: CloudChange, at: string): VersionedWrite<CloudReservation>;
  /** `update`, committed alone. */
  save(current: CloudReservation, change: CloudChange, at: string): Promise<Saved<CloudReservation>>;
  /**
   * Not-final reservations in `state` not updated since `before`, oldest first (the sweeper re-enqueues
   * queued ones, the reconciler looks at the others).
   */
  quiet(state: CloudState, before: string, limit: number): Promise<CloudReservation[]>;
}
