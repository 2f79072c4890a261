import type { Reservation, ReservationChange } from "../../domain/reservation.ts";
import type { Page, PageRequest } from "../pagination.ts";
import type { Saved, VersionedWrite, Write } from "./write.ts";

export interface ReservationRepository {
  /** Stores the reservation (in its device's partition) and its id pointer; fails on a taken id. */
  create(reservation: Reservation): Write;
  /** A reservation of that device (how agents address theirs: another device's id is simply absent). */
  get(deviceId: string, id: string): Promise<Reservation | undefined>;
  /** A reservation by id alone (users), through its pointer. */
  getById(id: string): Promise<Reservation | undefined>;
  /** Several reservations of one device, strongly consistent; missing ids are left out. */
  getMany(deviceId: string, ids: string[]): Promise<Reservation[]>;
  /** Every reservation of a device that is not yet `deleted` (boot sync; `withDeleted`: all), by feed order. */
  listForDevice(deviceId: string, opts?: { withDeleted?: boolean }): Promise<Reservation[]>;
  /** A workspace's reservations, oldest first. */
  list(
    workspaceId: string,
    page: PageRequest,
    keep?: (r: Reservation) => boolean,
  ): Promise<Page<Reservation>>;
  /**
   * A change of `current` (a state transition, or other fields) if it is still at `current.version`
   * (and state); bumps the version. As a Write, for a transaction.
   */
  update(current: Reservation, change: ReservationChange, at: string): VersionedWrite<Reservation>;
  /** `update`, committed alone: the reservation after it, or as it is now. */
  save(current: Reservation, change: ReservationChange, at: string): Promise<Saved<Reservation>>;
  /** Live reservations whose expiry is at or before `now`, at most `limit`. */
  expiring(now: string, limit: number): Promise<Reservation[]>;
}
