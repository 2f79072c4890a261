import { beforeAll, describe, expect, it } from "vitest";
import { moveReservation } from "../../shared/domain/reservation.ts";
import { verifyReservation } from "../../shared/domain/signing.ts";
import { removeReservation } from "../../shared/usecases/feed/reservations.ts";
import { registerAgent, reserve, type SimAgent } from "../helpers/agents.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { snapshot } from "../helpers/db.ts";

describe("/api/v1/reservations", () => {
  let t: TestApp;
  let agent: SimAgent;
  beforeAll(async () => {
    t = await testApp();
    agent = await registerAgent(t);
  });

  it.each([
    ["process", { argv: ["echo", "hi"], env: { A: "1" }, gpus: [0] }],
    [
      "container",
      { image: "nvcr.io/nvidia/pytorch:24.05-py3", mounts: [{ source: "/data", target: "/data" }] },
    ],
    ["volume", { name: "scratch", sizeGiB: 100 }],
    ["prepull", { image: "ubuntu:24.04" }],
    ["debug", { anything: ["goes", 1] }],
  ])("creates a %s reservation, signed so the device can verify it (201)", async (type, data) => {
    const r = await reserve(t, agent.deviceId, { type, data, duration: 600 });
    expect(r).toMatchObject({
      nodeId: agent.deviceId,
      workspaceId: "default",
      type,
      duration: 600,
      toDelete: false,
    });
    expect(r.state).toBe("pending");
    expect(typeof r.data).toBe("string");
    expect(verifyReservation(r, t.deps.keys.signing.publicKeyBase64)).toBe(true);
  });

  describe("bad input is a 400 (or 404) and writes nothing", () => {
    const rejected = async (body: unknown, token = t.admin) => {
      const before = await snapshot(t.db);
      const err = await errorOf(await t.call("POST", "/api/v1/reservations", { token, body }));
      expect(await snapshot(t.db)).toBe(before);
      return err;
    };

    it("an unknown type", async () => {
      const err = await rejected({ nodeId: agent.deviceId, type: "vm", data: {}, duration: 60 });
      expect(err).toMatchObject({ status: 400, code: "InvalidRequest" });
      expect(err.message).toContain("type must be one of container, process, volume, prepull, debug");
    });

    it.each([
      [{ type: "process", data: {} }, "data.argv"],
      [{ type: "process", data: { argv: [""] } }, "data.argv"],
      [{ type: "process", data: { argv: ["x"], env: { "A-B": "1" } } }, "data.env"],
      [{ type: "container", data: { image: "" } }, "data.image"],
      [
        { type: "container", data: { image: "x", mounts: [{ source: "rel", target: "/x" }] } },
        "data.mounts.0.source",
      ],
      [
        { type: "container", data: { image: "x", ports: [{ containerPort: 70000 }] } },
        "data.ports.0.containerPort",
      ],
      [{ type: "volume", data: { name: "Bad Name" } }, "data.name"],
      [{ type: "debug", data: {}, duration: 1.5 }, "duration"],
      [{ type: "debug", data: {}, duration: 0 }, "duration"],
      [{ type: "debug", data: {}, duration: "60" }, "duration"],
    ])("invalid %o → 400 naming %s", async (body, path) => {
      const err = await rejected({ nodeId: agent.deviceId, duration: 60, ...body });
      expect(err).toMatchObject({ status: 400, code: "InvalidRequest" });
      expect((err.details as { path: string }[]).map((d) => d.path)).toContain(path);
    });

    it("a device of another workspace → 404", async () => {
      const otherAdmin = await t.workspace("res-other");
      const theirs = await registerAgent(t, { admin: otherAdmin });
      const err = await rejected({ nodeId: theirs.deviceId, type: "debug", data: {}, duration: 60 });
      expect(err).toMatchObject({ status: 404, code: "NotFound" });
    });

    it("a member key → 403", async () => {
      const member = await t.key("member");
      expect(
        await rejected({ nodeId: agent.deviceId, type: "debug", data: {}, duration: 60 }, member),
      ).toMatchObject({
        status: 403,
      });
    });
  });

  it("gets a reservation with its result, and lists by device and state", async () => {
    const other = await registerAgent(t);
    const mine = await reserve(t, other.deviceId);
    await reserve(t, other.deviceId);
    expect((await other.result(mine, "ok", { echoed: true })).status).toBe(200);
    const got = (await (
      await t.call("GET", `/api/v1/reservations/${mine.id}`, { token: t.admin })
    ).json()) as {
      state: string;
      result: { state: string; data: string };
    };
    expect(got.state).toBe("ok");
    expect(JSON.parse(got.result.data)).toEqual({ echoed: true });
    const byDevice = (await (
      await t.call("GET", `/api/v1/reservations?nodeId=${other.deviceId}`, { token: t.admin })
    ).json()) as { items: { id: string }[] };
    expect(byDevice.items).toHaveLength(2);
    const okOnly = (await (
      await t.call("GET", `/api/v1/reservations?nodeId=${other.deviceId}&state=ok`, { token: t.admin })
    ).json()) as { items: { id: string }[] };
    expect(okOnly.items.map((r) => r.id)).toEqual([mine.id]);
  });

  it("deletes: marks toDelete and appends a removal entry; deleting again changes nothing", async () => {
    const r = await reserve(t, agent.deviceId);
    const { next } = await agent.poll(0);
    const res = await t.call("DELETE", `/api/v1/reservations/${r.id}`, { token: t.admin });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: r.id, state: "toDelete", toDelete: true });
    const feed = await agent.poll(next);
    expect(feed.reservations).toContainEqual(expect.objectContaining({ id: r.id, toDelete: true }));
    const before = await snapshot(t.db);
    expect((await t.call("DELETE", `/api/v1/reservations/${r.id}`, { token: t.admin })).status).toBe(200);
    expect(await snapshot(t.db)).toBe(before);
  });

  it("a removal that loses a race with the delivery mark tries again: no gap in the feed", async () => {
    const r = await reserve(t, agent.deviceId);
    const stale = (await t.deps.repos.reservations.get(agent.deviceId, r.id))!;
    // The delivery mark moves it on after the remover read it.
    await t.deps.repos.reservations.save(
      stale,
      moveReservation(stale, "delivered"),
      new Date().toISOString(),
    );
    const headBefore = (await t.deps.repos.feed.head(agent.deviceId)).seq;
    const { reservation, removed } = await removeReservation(t.deps, stale, "toDelete");
    expect(removed).toBe(true);
    expect(reservation.removeSeq).toBe(headBefore + 1);
    expect((await t.deps.repos.feed.head(agent.deviceId)).seq).toBe(headBefore + 1);
    const { entries } = await t.deps.repos.feed.read(agent.deviceId, headBefore + 1, 10);
    expect(entries.map((e) => [e.seq, e.kind])).toEqual([[headBefore + 1, "remove"]]);
  });

  it("answers another workspace's reservation with 404 on get, delete and output", async () => {
    const otherAdmin = await t.workspace("res-404");
    const theirAgent = await registerAgent(t, { admin: otherAdmin });
    const theirs = await reserve(t, theirAgent.deviceId, {}, otherAdmin);
    for (const [method, path] of [
      ["GET", `/api/v1/reservations/${theirs.id}`],
      ["DELETE", `/api/v1/reservations/${theirs.id}`],
      ["GET", `/api/v1/reservations/${theirs.id}/output`],
    ] as const) {
      expect((await t.call(method, path, { token: t.admin })).status).toBe(404);
    }
  });
});
