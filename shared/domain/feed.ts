import { z } from "zod";
import { RESERVATION_TYPES } from "./reservation.ts";

/** The fields the control plane signs (ed25519 over nodeId+workspaceId+type+data+created+duration). */
export const SIGNED_FIELDS = {
  id: z.string(),
  nodeId: z.string(),
  workspaceId: z.string(),
  user: z.string(),
  type: z.enum(RESERVATION_TYPES),
  data: z.string().meta({ description: "the payload as JSON text, exactly as signed" }),
  created: z.string().meta({ description: "RFC 3339" }),
  duration: z.number().meta({ description: "whole seconds; expires when now > created + duration" }),
  signature: z.string().meta({
    description:
      "base64 ed25519 by the control plane: protocol 2, over the canonical bytes of id, nodeId, " +
      "workspaceId, type, data, created, duration; protocol 1, over nodeId+workspaceId+type+data+created+duration",
  }),
};

export const CONTROL_ACTIONS = ["suspend", "resume", "stop", "kill"] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

/** What a control entry may ask: a control operation, or (protocol 2) a sampling lease's `sample`. */
export const FEED_CONTROL_ACTIONS = [...CONTROL_ACTIONS, "sample"] as const;

/**
 * A control operation on a running workload, signed by the control plane over id + action + issuedAt; or a
 * `sample` (sampleBytesV2: also its interval and end), sent to protocol 2 devices only.
 */
export const ReservationControl = z.object({
  action: z.enum(FEED_CONTROL_ACTIONS),
  /** `sample`: every this many seconds, until `until`. */
  intervalSeconds: z.number().int().min(1).max(60).optional(),
  until: z.string().optional(),
  issuedAt: z.string(),
  /** Protocol 2: the control's feed sequence (signed): an agent ignores one older than the last it applied. */
  seq: z.number().int().optional(),
  signature: z.string(),
  /** Kept with the entry, moved into `signature` for agents of protocol 2; never sent as such. */
  signatureV2: z.string().optional(),
});

/** Protocol 2: a removal's own signature (reservation id, device, feed sequence). */
export const ReservationRemoval = z.object({ seq: z.number().int(), signature: z.string() });

/**
 * What an agent receives: the signed fields, `toDelete`, and the feed sequence it came with. With `control`,
 * the entry is not the reservation itself but an operation on its workload (suspend, resume, stop, kill).
 */
export const AgentReservation = z.object({
  ...SIGNED_FIELDS,
  toDelete: z.boolean(),
  seq: z.number().optional(),
  control: ReservationControl.optional(),
  /** Protocol 2, with `toDelete`: the signed removal. An agent acts on no removal without it. */
  removal: ReservationRemoval.optional(),
  /**
   * The protocol 2 signature made when the reservation was created, kept with it; the control plane moves
   * it into `signature` for agents of protocol 2 and never sends it as such.
   */
  signatureV2: z.string().optional(),
});
export type AgentReservation = z.infer<typeof AgentReservation>;

/** One entry of a device's feed: a reservation to apply or to remove, or a control, as the agent receives it. */
export const FeedEntry = z.object({
  deviceId: z.string(),
  seq: z.number().int(),
  kind: z.enum(["apply", "remove", "control"]),
  reservation: AgentReservation,
  createdAt: z.string(),
  /** When the entry may be garbage-collected (the reservation's expiry plus a day). */
  expiresAt: z.string(),
});
export type FeedEntry = z.infer<typeof FeedEntry>;

/** A device's feed head: the last sequence number written, and the removals not yet acknowledged. */
export interface FeedHead {
  seq: number;
  /** Reservation id → the sequence number of its removal entry. */
  removals: { id: string; seq: number }[];
}

/**
 * Reading a device's feed in order. Writers take a sequence number (atomic ADD) and then write the
 * entry, so entry N+1 can become visible a moment before entry N. A reader that stepped past N would
 * never see it. So a reader walks from its cursor and stops at the first gap whose next entry is
 * younger than `settleMs`: N is probably being written. A gap older than that was left by a writer that
 * crashed between the two steps, and is stepped over.
 */
export interface FeedPosition {
  seq: number;
  createdAt: string;
}

export interface FeedWalk<T extends FeedPosition> {
  /** Entries to deliver, in order. */
  taken: T[];
  /** The cursor to poll from next. */
  next: number;
  /** When a held-back gap may be stepped over (ms since epoch), if one was found. */
  settlesAt?: number;
}

/** Default time after which a gap counts as a crashed writer's. */
export const FEED_GAP_SETTLE_MS = 5_000;

export function walkFeed<T extends FeedPosition>(
  entries: T[],
  from: number,
  now: Date,
  settleMs: number,
): FeedWalk<T> {
  const taken: T[] = [];
  let expected = from;
  for (const entry of [...entries].sort((a, b) => a.seq - b.seq)) {
    if (entry.seq < expected) continue;
    if (entry.seq > expected) {
      const settlesAt = Date.parse(entry.createdAt) + settleMs;
      if (settlesAt > now.getTime()) return { taken, next: expected, settlesAt };
    }
    taken.push(entry);
    expected = entry.seq + 1;
  }
  return { taken, next: expected };
}

/**
 * Where a boot sync should resume the feed: after the newest entry, unless a recent entry sits above a
 * gap (a write still in flight), in which case at that gap. `recent` are the newest entries, ascending.
 */
export function bootCursor(recent: FeedPosition[], now: Date, settleMs: number): number {
  if (recent.length === 0) return 1;
  const sorted = [...recent].sort((a, b) => a.seq - b.seq);
  return walkFeed(sorted, sorted[0]!.seq, now, settleMs).next;
}
