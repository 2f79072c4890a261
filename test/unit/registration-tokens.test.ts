import { beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../../shared/domain/tokens.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { snapshot } from "../helpers/db.ts";
import { createToken, gpudLoginBody, login } from "../helpers/fleet.ts";

interface TokenView {
  id: string;
  prefix: string;
  name: string;
  labels: Record<string, string>;
  environmentVariables: Record<string, string>;
  maxRegistrations?: number;
  deviceCount: number;
  expiresAt?: string;
  nodeGroup?: string;
  token?: string;
}

describe("/api/v1/registration-tokens", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  const get = async (id: string, token = t.admin) =>
    (await (await t.call("GET", `/api/v1/registration-tokens/${id}`, { token })).json()) as TokenView;

  it("creates a token (201), shows its secret once in `token`, and stores only the hash", async () => {
    const res = await t.call("POST", "/api/v1/registration-tokens", {
      token: t.admin,
      body: {
        name: "rack 4",
        description: "the A100 rack",
        labels: { "user.node.lepton.ai/rack": "r4" },
        environmentVariables: { NCCL_DEBUG: "INFO" },
        maxRegistrations: 3,
        namingStrategy: "fromHostname",
      },
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as TokenView;
    expect(body).toMatchObject({
      name: "rack 4",
      labels: { rack: "r4" },
      environmentVariables: { NCCL_DEBUG: "INFO" },
      maxRegistrations: 3,
      deviceCount: 0,
      prefix: `berth_rt_${body.id}`,
    });
    expect(body.token).toMatch(/^berth_rt_/);
    const stored = await snapshot(t.db);
    expect(stored).not.toContain(body.token!);
    expect(stored).toContain(hashToken(body.token!));
    expect(await get(body.id)).not.toHaveProperty("token");
  });

  it("lists tokens page by page without secrets", async () => {
    const admin = await t.workspace("tokens-list");
    for (let i = 0; i < 3; i++) await createToken(t, { name: `t${i}` }, admin);
    const first = await t.call("GET", "/api/v1/registration-tokens?pageSize=2", { token: admin });
    const page = (await first.json()) as { items: TokenView[]; nextPageToken: string };
    expect(page.items.map((i) => i.name)).toEqual(["t0", "t1"]);
    for (const item of page.items) expect(item).not.toHaveProperty("token");
    const second = await t.call(
      "GET",
      `/api/v1/registration-tokens?pageSize=2&pageToken=${page.nextPageToken}`,
      {
        token: admin,
      },
    );
    expect(((await second.json()) as { items: TokenView[] }).items.map((i) => i.name)).toEqual(["t2"]);
    expect(second.headers.get("total-items")).toBe("3");
  });

  it("updates name, labels, env and cap; null removes the cap", async () => {
    const created = await createToken(t, { maxRegistrations: 2 });
    const res = await t.call("PATCH", `/api/v1/registration-tokens/${created.id}`, {
      token: t.admin,
      body: {
        name: "renamed",
        labels: { tier: "gold" },
        environmentVariables: { A: "1" },
        maxRegistrations: null,
      },
    });
    expect(res.status).toBe(200);
    const view = await get(created.id);
    expect(view).toMatchObject({
      name: "renamed",
      labels: { tier: "gold" },
      environmentVariables: { A: "1" },
    });
    expect(view.maxRegistrations).toBeUndefined();
  });

  it("registers new machines only unless created (or updated) with keylessRelogin", async () => {
    const strict = await createToken(t);
    expect(((await get(strict.id)) as unknown as { keylessRelogin: boolean }).keylessRelogin).toBe(false);
    const { body } = await login(t, gpudLoginBody(strict.token));
    expect((await login(t, gpudLoginBody(strict.token, { machineID: body.machineID }))).status).toBe(403);
    const updated = await t.call("PATCH", `/api/v1/registration-tokens/${strict.id}`, {
      token: t.admin,
      body: { keylessRelogin: true },
    });
    expect(((await updated.json()) as { keylessRelogin: boolean }).keylessRelogin).toBe(true);
    expect((await login(t, gpudLoginBody(strict.token, { machineID: body.machineID }))).status).toBe(200);
  });

  it("does not change devices already registered when the token is updated", async () => {
    const created = await createToken(t, { labels: { tier: "bronze" } });
    const { body } = await login(t, gpudLoginBody(created.token));
    await t.call("PATCH", `/api/v1/registration-tokens/${created.id}`, {
      token: t.admin,
      body: { labels: { tier: "gold" } },
    });
    const device = (await (
      await t.call("GET", `/api/v1/devices/${body.machineID}`, { token: t.admin })
    ).json()) as {
      labels: Record<string, string>;
    };
    expect(device.labels).toEqual({ tier: "bronze" });
  });

  it("counts devices exactly: up on registration, down when a device is deleted", async () => {
    const created = await createToken(t, { maxRegistrations: 2 });
    const a = await login(t, gpudLoginBody(created.token));
    await login(t, gpudLoginBody(created.token));
    expect((await get(created.id)).deviceCount).toBe(2);
    expect((await login(t, gpudLoginBody(created.token))).status).toBe(401);
    await t.call("DELETE", `/api/v1/devices/${a.body.machineID}`, { token: t.admin });
    expect((await get(created.id)).deviceCount).toBe(1);
    expect((await login(t, gpudLoginBody(created.token))).status).toBe(200);
  });

  it("ignores a deviceCount sent by the client", async () => {
    const res = await t.call("POST", "/api/v1/registration-tokens", {
      token: t.admin,
      body: { name: "x", deviceCount: 99 },
    });
    expect(((await res.json()) as TokenView).deviceCount).toBe(0);
  });

  it("stops new logins once deleted, while registered devices keep working", async () => {
    const created = await createToken(t);
    const { body } = await login(t, gpudLoginBody(created.token));
    expect(
      (await t.call("DELETE", `/api/v1/registration-tokens/${created.id}`, { token: t.admin })).status,
    ).toBe(204);
    expect((await login(t, gpudLoginBody(created.token))).status).toBe(401);
    expect(
      (await t.call("POST", "/api/v1/agent/heartbeat", { token: body.token as string, body: {} })).status,
    ).toBe(200);
    expect(
      (await t.call("GET", `/api/v1/registration-tokens/${created.id}`, { token: t.admin })).status,
    ).toBe(404);
  });

  describe("bad input changes nothing", () => {
    const rejected = async (method: string, path: string, body: unknown, token = t.admin) => {
      const before = await snapshot(t.db);
      const err = await errorOf(await t.call(method, path, { token, body }));
      expect(await snapshot(t.db)).toBe(before);
      return err;
    };

    it.each([
      [{ name: "" }, "name"],
      [{ name: "x", maxRegistrations: 0 }, "maxRegistrations"],
      [{ name: "x", maxRegistrations: 1.5 }, "maxRegistrations"],
      [{ name: "x", labels: { "a/b": "c" } }, "labels"],
      [{ name: "x", environmentVariables: { "1BAD": "x" } }, "environmentVariables"],
      [{ name: "x", namingStrategy: "random" }, "namingStrategy"],
      [{ name: "x", expiresAt: "2020-01-01T00:00:00Z" }, "expiresAt"],
      [{ name: "x", nodeGroup: "missing" }, "nodeGroup"],
    ])("400 for %o naming %s", async (body, path) => {
      const err = await rejected("POST", "/api/v1/registration-tokens", body);
      expect(err).toMatchObject({ status: 400, code: "InvalidRequest" });
      expect((err.details as { path: string }[]).map((d) => d.path)).toContain(path);
    });

    it("403 for a member key", async () => {
      const member = await t.key("member");
      expect(await rejected("POST", "/api/v1/registration-tokens", { name: "x" }, member)).toMatchObject({
        status: 403,
        code: "Forbidden",
      });
    });

    it("404 for another workspace's token on get, update and delete", async () => {
      const other = await t.workspace("tokens-other");
      const theirs = await createToken(t, {}, other);
      expect(
        (await t.call("GET", `/api/v1/registration-tokens/${theirs.id}`, { token: t.admin })).status,
      ).toBe(404);
      expect(
        await rejected("PATCH", `/api/v1/registration-tokens/${theirs.id}`, { name: "mine" }),
      ).toMatchObject({
        status: 404,
      });
      expect(await rejected("DELETE", `/api/v1/registration-tokens/${theirs.id}`, undefined)).toMatchObject({
        status: 404,
      });
      expect((await login(t, gpudLoginBody(theirs.token))).status).toBe(200);
    });
  });
});
