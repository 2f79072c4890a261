import { beforeAll, describe, expect, it } from "vitest";
import { signResult } from "../../shared/domain/signing.ts";
import { sweepExpired } from "../../shared/usecases/feed/sweep.ts";
import { registerAgent, reserve, type SimAgent } from "../helpers/agents.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { snapshot } from "../helpers/db.ts";
import { createToken, gpudLoginBody, login } from "../helpers/fleet.ts";

type ResultFields = { id: string; state: string; error: string; data: string };

describe("agent feedback", () => {
  const clock = manualClock(new Date());
  let t: TestApp;
  let agent: SimAgent;
  let other: SimAgent;
  beforeAll(async () => {
    t = await testApp({ clock });
    agent = await registerAgent(t);
    other = await registerAgent(t);
  });

  const state = async (id: string) =>
    (await (await t.call("GET", `/api/v1/reservations/${id}`, { token: t.admin })).json()) as {
      state: string;
      result?: unknown;
    };

  describe("PUT /agent/reservations/{id}/result", () => {
    it("stores a signed result and moves the reservation to its state", async () => {
      const r = await reserve(t, agent.deviceId);
      const res = await agent.result(r, "ok", { exitCode: 0 });
      expect(res.status).toBe(200);
      expect(await state(r.id)).toMatchObject({
        state: "ok",
        result: { state: "ok", data: '{"exitCode":0}' },
      });
    });

    it("answers the same result again with 200 and changes nothing", async () => {
      const r = await reserve(t, agent.deviceId);
      await agent.result(r, "error", {}, "image not found");
      const before = await snapshot(t.db);
      expect((await agent.result(r, "error", {}, "image not found")).status).toBe(200);
      expect(await snapshot(t.db)).toBe(before);
    });

    it("refuses a different result once one is stored (409)", async () => {
      const r = await reserve(t, agent.deviceId);
      await agent.result(r, "ok", { exitCode: 0 });
      const err = await errorOf(await agent.result(r, "ok", { exitCode: 1 }));
      expect(err).toMatchObject({ status: 409, code: "Conflict" });
      expect(await state(r.id)).toMatchObject({ result: { data: '{"exitCode":0}' } });
    });

    it.each([
      ["forged", (body: ResultFields) => ({ ...body, signature: signResult(body, other.privateKey) })],
      ["missing", (body: ResultFields) => ({ ...body, signature: "" })],
      ["malformed", (body: ResultFields) => ({ ...body, signature: "%%%" })],
      [
        "for other data",
        (body: ResultFields) => ({
          ...body,
          signature: signResult({ ...body, data: "{}" }, agent.privateKey),
          data: '{"x":1}',
        }),
      ],
    ])("refuses a %s signature with 400 and stores nothing", async (_what, sign) => {
      const r = await reserve(t, agent.deviceId);
      const before = await snapshot(t.db);
      const body = sign({ id: r.id, state: "ok", error: "", data: "{}" });
      const err = await errorOf(
        await t.call("PUT", `/api/v1/agent/reservations/${r.id}/result`, {
          token: agent.session,
          body: { ...body, type: r.type, created: new Date().toISOString() },
        }),
      );
      expect(err).toMatchObject({ status: 400, code: "InvalidRequest" });
      expect(err.message).toContain("signature");
      expect(await snapshot(t.db)).toBe(before);
    });

    it("refuses results from a device that registered no key (GPUd)", async () => {
      const token = (await createToken(t)).token;
      const gpud = await login(t, gpudLoginBody(token));
      const r = await reserve(t, gpud.body.machineID as string);
      const err = await errorOf(
        await t.call("PUT", `/api/v1/agent/reservations/${r.id}/result`, {
          token: gpud.body.token as string,
          body: { id: r.id, type: "debug", created: "x", state: "ok", signature: "AAAA" },
        }),
      );
      expect(err).toMatchObject({ status: 400 });
      expect(err.message).toContain("without a public key");
    });

    it("answers 404 for an unknown reservation and for another device's", async () => {
      const theirs = await reserve(t, other.deviceId);
      const before = await snapshot(t.db);
      expect((await errorOf(await agent.result({ id: "nope", type: "debug" }, "ok"))).status).toBe(404);
      expect((await errorOf(await agent.result(theirs, "ok"))).status).toBe(404);
      expect((await agent.deleted(theirs.id)).status).toBe(404);
      const output = await t.call("POST", `/api/v1/agent/reservations/${theirs.id}/output`, {
        token: agent.session,
        body: { stream: "stdout", seq: 1, data: "x" },
      });
      expect(output.status).toBe(404);
      expect(await snapshot(t.db)).toBe(before);
    });

    it("refuses a body whose id is not the path's", async () => {
      const r = await reserve(t, agent.deviceId);
      const body = { id: "another", state: "ok", error: "", data: "{}" };
      const err = await errorOf(
        await t.call("PUT", `/api/v1/agent/reservations/${r.id}/result`, {
          token: agent.session,
          body: { ...body, type: "debug", created: "x", signature: signResult(body, agent.privateKey) },
        }),
      );
      expect(err).toMatchObject({ status: 400, details: [{ path: "id" }] });
    });

    it("refuses a user key and accepts only the device's session", async () => {
      const r = await reserve(t, agent.deviceId);
      expect(
        (await t.call("PUT", `/api/v1/agent/reservations/${r.id}/deleted`, { token: t.admin })).status,
      ).toBe(401);
    });
  });

  describe("PUT /agent/reservations/{id}/deleted", () => {
    it("moves a removed reservation to deleted; a second acknowledgement changes nothing", async () => {
      const r = await reserve(t, agent.deviceId);
      await t.call("DELETE", `/api/v1/reservations/${r.id}`, { token: t.admin });
      expect((await agent.deleted(r.id)).status).toBe(200);
      expect(await state(r.id)).toMatchObject({ state: "deleted" });
      const before = await snapshot(t.db);
      expect((await agent.deleted(r.id)).status).toBe(200);
      expect(await snapshot(t.db)).toBe(before);
    });

    it("accepts a decommission the device did on its own (its expiry clock)", async () => {
      const r = await reserve(t, agent.deviceId);
      expect((await agent.deleted(r.id)).status).toBe(200);
      expect(await state(r.id)).toMatchObject({ state: "deleted" });
    });
  });

  describe("POST /agent/reservations/{id}/output", () => {
    it("stores chunks in order, ignores a repeated seq, and lets users read them", async () => {
      const r = await reserve(t, agent.deviceId);
      const send = (body: unknown) =>
        t.call("POST", `/api/v1/agent/reservations/${r.id}/output`, { token: agent.session, body });
      const first = await send({
        chunks: [
          { stream: "stdout", seq: 2, data: "world\n" },
          { stream: "stdout", seq: 1, data: "hello " },
          { stream: "stderr", seq: 3, data: "warn\n" },
        ],
      });
      expect(await first.json()).toEqual({ stored: 3, ignored: 0 });
      expect(await (await send({ stream: "stdout", seq: 2, data: "REPLAYED" })).json()).toEqual({
        stored: 0,
        ignored: 1,
      });
      const out = (await (
        await t.call("GET", `/api/v1/reservations/${r.id}/output`, { token: t.admin })
      ).json()) as {
        items: { seq: number; data: string }[];
      };
      expect(out.items.map((c) => c.data).join("")).toBe("hello world\nwarn\n");
      const stdout = (await (
        await t.call("GET", `/api/v1/reservations/${r.id}/output?stream=stdout`, { token: t.admin })
      ).json()) as { items: { seq: number }[] };
      expect(stdout.items.map((c) => c.seq)).toEqual([1, 2]);
    });

    it("refuses a bad chunk with 400", async () => {
      const r = await reserve(t, agent.deviceId);
      const err = await errorOf(
        await t.call("POST", `/api/v1/agent/reservations/${r.id}/output`, {
          token: agent.session,
          body: { stream: "stdlog", seq: 0, data: "x" },
        }),
      );
      expect(err).toMatchObject({ status: 400 });
    });
  });

  describe("the expiry sweeper", () => {
    it("expires reservations strictly past created + duration and appends their removal", async () => {
      const r = await reserve(t, agent.deviceId, { duration: 10 });
      const { next } = await agent.poll(0);
      clock.advance(10_000);
      expect(await sweepExpired(t.deps)).toBe(0);
      clock.advance(1);
      expect(await sweepExpired(t.deps)).toBeGreaterThanOrEqual(1);
      expect(await state(r.id)).toMatchObject({ state: "expired" });
      const feed = await agent.poll(next);
      expect(feed.reservations).toContainEqual(expect.objectContaining({ id: r.id, toDelete: true }));
      expect((await agent.deleted(r.id)).status).toBe(200);
    });

    it("expires a reservation once when two sweepers overlap", async () => {
      const fresh = await testApp({ clock });
      const a = await registerAgent(fresh);
      const r = await reserve(fresh, a.deviceId, { duration: 5 });
      const { next } = await a.poll(0);
      clock.advance(6000);
      const counts = await Promise.all([
        sweepExpired(fresh.deps),
        sweepExpired(fresh.deps),
        sweepExpired(fresh.deps),
      ]);
      expect(counts.reduce((x, y) => x + y, 0)).toBe(1);
      const feed = await a.poll(next);
      expect(feed.reservations.filter((x) => x.id === r.id)).toHaveLength(1);
      const { entries } = await fresh.deps.repos.feed.read(a.deviceId, next, 100);
      expect(entries.filter((e) => e.kind === "remove")).toHaveLength(1);
    });
  });
});
