import { describe, expect, it } from "vitest";
import {
  canTransition,
  isExpired,
  isFinal,
  RESERVATION_STATES,
  RESERVATION_TRANSITIONS,
} from "../../shared/domain/reservation.ts";

describe("reservation states", () => {
  it("follow pending → delivered → ok | error, removal → deleted", () => {
    expect(canTransition("pending", "delivered")).toBe(true);
    expect(canTransition("delivered", "ok")).toBe(true);
    expect(canTransition("delivered", "error")).toBe(true);
    expect(canTransition("ok", "toDelete")).toBe(true);
    expect(canTransition("toDelete", "deleted")).toBe(true);
    expect(canTransition("expired", "deleted")).toBe(true);
  });

  it("never leave deleted, never go back to pending, never turn an error into ok", () => {
    for (const s of RESERVATION_STATES) expect(canTransition("deleted", s)).toBe(false);
    for (const s of RESERVATION_STATES) expect(canTransition(s, "pending")).toBe(false);
    expect(canTransition("error", "ok")).toBe(false);
    expect(canTransition("toDelete", "ok")).toBe(false);
  });

  it("has a transition list for every state, and deleted is the only final one", () => {
    expect(Object.keys(RESERVATION_TRANSITIONS).sort()).toEqual([...RESERVATION_STATES].sort());
    expect(RESERVATION_STATES.filter(isFinal)).toEqual(["deleted"]);
  });

  it("expires strictly after created + duration", () => {
    const r = { created: "2026-11-01T00:00:00.000Z", duration: 60 };
    expect(isExpired(r, new Date("2026-11-01T00:01:00.000Z"))).toBe(false);
    expect(isExpired(r, new Date("2026-11-01T00:01:00.001Z"))).toBe(true);
  });
});
