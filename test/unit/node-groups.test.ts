import { beforeAll, describe, expect, it } from "vitest";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { snapshot } from "../helpers/db.ts";
import { createToken, gpudLoginBody, login } from "../helpers/fleet.ts";

describe("/api/v1/node-groups", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });

  it("has a default group in every workspace", async () => {
    const res = await t.call("GET", "/api/v1/node-groups", { token: t.admin });
    expect(((await res.json()) as { items: { name: string }[] }).items.map((g) => g.name)).toEqual([
      "default",
    ]);
    const other = await t.workspace("groups-fresh");
    expect((await t.call("GET", "/api/v1/node-groups/default", { token: other })).status).toBe(200);
  });

  it("creates, reads, updates and deletes a group", async () => {
    const created = await t.call("POST", "/api/v1/node-groups", {
      token: t.admin,
      body: { name: "a100s", description: "rack 4", labels: { tier: "gold" } },
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ name: "a100s", workspaceId: "default", deviceCount: 0 });
    const patched = await t.call("PATCH", "/api/v1/node-groups/a100s", {
      token: t.admin,
      body: { description: "rack 5" },
    });
    expect(await patched.json()).toMatchObject({ description: "rack 5", labels: { tier: "gold" } });
    expect((await t.call("DELETE", "/api/v1/node-groups/a100s", { token: t.admin })).status).toBe(204);
    expect((await t.call("GET", "/api/v1/node-groups/a100s", { token: t.admin })).status).toBe(404);
  });

  it("refuses a second group of the same name (409) and changes nothing", async () => {
    await t.call("POST", "/api/v1/node-groups", { token: t.admin, body: { name: "twice" } });
    const before = await snapshot(t.db);
    const err = await errorOf(
      await t.call("POST", "/api/v1/node-groups", { token: t.admin, body: { name: "twice" } }),
    );
    expect(err).toMatchObject({ status: 409, code: "Conflict" });
    expect(await snapshot(t.db)).toBe(before);
  });

  it("refuses to delete a group that has devices (409), and allows it once they are gone", async () => {
    await t.call("POST", "/api/v1/node-groups", { token: t.admin, body: { name: "busy" } });
    const token = (await createToken(t)).token;
    const { body } = await login(t, gpudLoginBody(token, { nodeGroup: "busy" }));
    const err = await errorOf(await t.call("DELETE", "/api/v1/node-groups/busy", { token: t.admin }));
    expect(err).toMatchObject({ status: 409, code: "Conflict", details: { deviceCount: 1 } });
    await t.call("DELETE", `/api/v1/devices/${body.machineID}`, { token: t.admin });
    expect((await t.call("DELETE", "/api/v1/node-groups/busy", { token: t.admin })).status).toBe(204);
  });

  it("refuses to delete the default group", async () => {
    const err = await errorOf(await t.call("DELETE", "/api/v1/node-groups/default", { token: t.admin }));
    expect(err).toMatchObject({ status: 409, code: "Conflict" });
  });

  it("never leaves a device in a deleted group when a delete and logins race", async () => {
    await t.call("POST", "/api/v1/node-groups", { token: t.admin, body: { name: "racing" } });
    const token = (await createToken(t)).token;
    const [deleted, ...logins] = await Promise.all([
      t.call("DELETE", "/api/v1/node-groups/racing", { token: t.admin }),
      ...Array.from({ length: 5 }, () => login(t, gpudLoginBody(token, { nodeGroup: "racing" }))),
    ]);
    const joined = logins.filter((l) => l.status === 200).length;
    const group = await t.call("GET", "/api/v1/node-groups/racing", { token: t.admin });
    if (deleted!.status === 204) {
      expect(group.status).toBe(404);
      expect(joined).toBe(0);
    } else {
      expect(deleted!.status).toBe(409);
      expect(((await group.json()) as { deviceCount: number }).deviceCount).toBe(joined);
    }
    const devices = (await (
      await t.call("GET", "/api/v1/devices?nodeGroup=racing", { token: t.admin })
    ).json()) as {
      items: unknown[];
    };
    expect(devices.items).toHaveLength(joined);
  });

  it.each([
    [{ name: "Bad_Name" }, "name"],
    [{ name: "ok", labels: { "x/y": "z" } }, "labels"],
  ])("400 for %o", async (body, path) => {
    const err = await errorOf(await t.call("POST", "/api/v1/node-groups", { token: t.admin, body }));
    expect(err).toMatchObject({ status: 400, details: [{ path }] });
  });

  it("403 for a member key, 404 for another workspace's group", async () => {
    const member = await t.key("member");
    expect((await t.call("GET", "/api/v1/node-groups", { token: member })).status).toBe(403);
    const other = await t.workspace("groups-other");
    await t.call("POST", "/api/v1/node-groups", { token: other, body: { name: "private" } });
    expect((await t.call("GET", "/api/v1/node-groups/private", { token: t.admin })).status).toBe(404);
    expect((await t.call("DELETE", "/api/v1/node-groups/private", { token: t.admin })).status).toBe(404);
    expect((await t.call("GET", "/api/v1/node-groups/private", { token: other })).status).toBe(200);
  });
});
