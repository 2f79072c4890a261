import { beforeAll, describe, expect, it } from "vitest";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { snapshot } from "../helpers/db.ts";
import { createToken, gpudLoginBody, login } from "../helpers/fleet.ts";

interface DeviceView {
  id: string;
  name: string;
  nodeGroup: string;
  labels: Record<string, string>;
  status: string;
  lastSeenAt: string;
  info: Record<string, unknown>;
}

describe("/api/v1/devices", () => {
  const clock = manualClock();
  let t: TestApp;
  let token: string;
  const ids: Record<string, { id: string; session: string }> = {};

  const register = async (name: string, over: Record<string, unknown> = {}) => {
    const body = gpudLoginBody(token, over);
    (body.machineInfo as Record<string, unknown>).hostname = name;
    const res = await login(t, body);
    ids[name] = { id: res.body.machineID as string, session: res.body.token as string };
  };

  beforeAll(async () => {
    t = await testApp({ clock });
    await t.call("POST", "/api/v1/node-groups", { token: t.admin, body: { name: "training" } });
    token = (await createToken(t, { namingStrategy: "fromHostname" })).token;
    await register("alpha", { nodeLabels: { gpu: "a100", zone: "r1" } });
    await register("bravo", { nodeLabels: { gpu: "a100", zone: "r2" }, nodeGroup: "training" });
    await register("charlie", { nodeLabels: { gpu: "h100", zone: "r1" } });
  });

  const list = async (query: string, key = t.admin) => {
    const res = await t.call("GET", `/api/v1/devices${query}`, { token: key });
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: DeviceView[] }).items.map((d) => d.name).sort();
  };

  it("lists the workspace's devices", async () => {
    expect(await list("")).toEqual(["alpha", "bravo", "charlie"]);
  });

  it("filters by repeated label=key=value (all must match)", async () => {
    expect(await list("?label=gpu=a100")).toEqual(["alpha", "bravo"]);
    expect(await list("?label=gpu=a100&label=zone=r1")).toEqual(["alpha"]);
    expect(await list("?label=user.node.lepton.ai/gpu=h100")).toEqual(["charlie"]);
  });

  it("filters by a labels JSON object", async () => {
    expect(await list(`?labels=${encodeURIComponent('{"zone":"r1"}')}`)).toEqual(["alpha", "charlie"]);
  });

  it("filters by node group and by search (name, hostname, id)", async () => {
    expect(await list("?nodeGroup=training")).toEqual(["bravo"]);
    expect(await list("?search=ARL")).toEqual(["charlie"]);
    expect(await list(`?search=${ids.alpha!.id}`)).toEqual(["alpha"]);
  });

  it("derives online/offline from lastSeenAt and the TTL", async () => {
    expect(await list("?status=offline")).toEqual([]);
    clock.advance(91_000);
    await t.call("POST", "/api/v1/agent/heartbeat", { token: ids.bravo!.session, body: {} });
    expect(await list("?status=online")).toEqual(["bravo"]);
    expect(await list("?status=offline")).toEqual(["alpha", "charlie"]);
  });

  it("pages through filtered results with a token bound to the filter", async () => {
    const first = await t.call("GET", "/api/v1/devices?label=gpu=a100&pageSize=1", { token: t.admin });
    const page = (await first.json()) as { items: DeviceView[]; nextPageToken: string };
    expect(page.items).toHaveLength(1);
    const next = await t.call(
      "GET",
      `/api/v1/devices?label=gpu=a100&pageSize=1&pageToken=${encodeURIComponent(page.nextPageToken)}`,
      { token: t.admin },
    );
    expect(((await next.json()) as { items: unknown[] }).items).toHaveLength(1);
    const otherFilter = await t.call(
      "GET",
      `/api/v1/devices?label=gpu=h100&pageToken=${encodeURIComponent(page.nextPageToken)}`,
      { token: t.admin },
    );
    expect(otherFilter.status).toBe(400);
  });

  it.each([
    ["?label=gpu", "label"],
    ["?labels=notjson", "labels"],
    ["?status=sleeping", "status"],
    ["?label=a/b=c", "label"],
  ])("400 for %s", async (query, path) => {
    const err = await errorOf(await t.call("GET", `/api/v1/devices${query}`, { token: t.admin }));
    expect(err).toMatchObject({ status: 400, code: "InvalidRequest", details: [{ path }] });
  });

  it("lets members read devices but not change them", async () => {
    const member = await t.key("member");
    expect(await list("", member)).toHaveLength(3);
    const before = await snapshot(t.db);
    const err = await errorOf(
      await t.call("PATCH", `/api/v1/devices/${ids.alpha!.id}`, { token: member, body: { name: "mine" } }),
    );
    expect(err).toMatchObject({ status: 403, code: "Forbidden" });
    expect((await t.call("DELETE", `/api/v1/devices/${ids.alpha!.id}`, { token: member })).status).toBe(403);
    expect(await snapshot(t.db)).toBe(before);
  });

  it("shows the environment devices inherit from their token to admins only (its values may be secrets)", async () => {
    const secret = await createToken(t, { environmentVariables: { HF_TOKEN: "hf_secret" } });
    const res = await login(t, gpudLoginBody(secret.token));
    const id = res.body.machineID as string;
    const member = await t.key("member");
    const asMember = await (await t.call("GET", `/api/v1/devices/${id}`, { token: member })).json();
    expect(asMember).not.toHaveProperty("environmentVariables");
    expect(
      JSON.stringify(await (await t.call("GET", "/api/v1/devices", { token: member })).json()),
    ).not.toContain("hf_secret");
    const asAdmin = (await (await t.call("GET", `/api/v1/devices/${id}`, { token: t.admin })).json()) as {
      environmentVariables: Record<string, string>;
    };
    expect(asAdmin.environmentVariables).toEqual({ HF_TOKEN: "hf_secret" });
  });

  it("renames and relabels a device (labels: the complete new set)", async () => {
    const res = await t.call("PATCH", `/api/v1/devices/${ids.alpha!.id}`, {
      token: t.admin,
      body: { name: "alpha-1", labels: { "user.node.lepton.ai/gpu": "a100-80g" } },
    });
    expect(await res.json()).toMatchObject({ name: "alpha-1", labels: { gpu: "a100-80g" } });
    const err = await errorOf(
      await t.call("PATCH", `/api/v1/devices/${ids.alpha!.id}`, {
        token: t.admin,
        body: { labels: { "-x": "y" } },
      }),
    );
    expect(err).toMatchObject({ status: 400, details: [{ path: "labels" }] });
  });

  it("answers another workspace's device with 404 on every route and changes nothing", async () => {
    const otherAdmin = await t.workspace("devices-other");
    const otherToken = (await createToken(t, {}, otherAdmin)).token;
    const theirs = (await login(t, gpudLoginBody(otherToken))).body.machineID as string;
    const before = await snapshot(t.db);
    for (const [method, body] of [
      ["GET", undefined],
      ["PATCH", { name: "stolen" }],
      ["DELETE", undefined],
    ] as const) {
      const err = await errorOf(await t.call(method, `/api/v1/devices/${theirs}`, { token: t.admin, body }));
      expect(err).toMatchObject({ status: 404, code: "NotFound" });
    }
    expect(await snapshot(t.db)).toBe(before);
    expect(await list("")).not.toContain("gpu-node-1");
  });

  it("revokes the session on delete: the agent's next call is 401, and a relogin is 404", async () => {
    const { id, session } = ids.charlie!;
    expect((await t.call("DELETE", `/api/v1/devices/${id}`, { token: t.admin })).status).toBe(204);
    const err = await errorOf(await t.call("POST", "/api/v1/agent/heartbeat", { token: session, body: {} }));
    expect(err).toMatchObject({ status: 401, code: "Unauthorized" });
    expect(err.message).toContain("deleted");
    expect((await login(t, gpudLoginBody(token, { machineID: id }))).status).toBe(404);
    expect((await t.call("DELETE", `/api/v1/devices/${id}`, { token: t.admin })).status).toBe(404);
  });
});

describe("POST /api/v1/agent/heartbeat", () => {
  const clock = manualClock();
  let t: TestApp;
  let session: string;
  let id: string;
  beforeAll(async () => {
    t = await testApp({ clock });
    const token = (await createToken(t)).token;
    const res = await login(t, gpudLoginBody(token));
    session = res.body.token as string;
    id = res.body.machineID as string;
  });

  it("refreshes lastSeenAt and updates machine info, keeping the login's addresses", async () => {
    clock.advance(60_000);
    const res = await t.call("POST", "/api/v1/agent/heartbeat", {
      token: session,
      body: { agentVersion: "0.2.0", machineInfo: { hostname: "renamed-host", gpuDriverVersion: "560.1" } },
    });
    expect(await res.json()).toEqual({ serverTime: clock.now().toISOString(), heartbeatIntervalSeconds: 30 });
    const device = (await (
      await t.call("GET", `/api/v1/devices/${id}`, { token: t.admin })
    ).json()) as DeviceView & {
      agentVersion: string;
    };
    expect(device.lastSeenAt).toBe(clock.now().toISOString());
    expect(device.agentVersion).toBe("0.2.0");
    expect(device.info).toMatchObject({
      hostname: "renamed-host",
      gpuDriverVersion: "560.1",
      publicIP: "203.0.113.7",
    });
  });

  it("refuses an API key, a registration token and a malformed token", async () => {
    for (const bad of [t.admin, "berth_st_garbage", "nonsense"]) {
      const err = await errorOf(await t.call("POST", "/api/v1/agent/heartbeat", { token: bad, body: {} }));
      expect(err).toMatchObject({ status: 401, code: "Unauthorized" });
    }
  });

  it("400 for a bad body, before anything is written", async () => {
    const before = await snapshot(t.db);
    const err = await errorOf(
      await t.call("POST", "/api/v1/agent/heartbeat", { token: session, body: { agentVersion: 5 } }),
    );
    expect(err).toMatchObject({ status: 400, details: [{ path: "agentVersion" }] });
    expect(await snapshot(t.db)).toBe(before);
  });
});
