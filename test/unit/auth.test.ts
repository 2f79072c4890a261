import { beforeAll, describe, expect, it } from "vitest";
import { newId } from "../../shared/domain/ids.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { snapshot } from "../helpers/db.ts";

describe("API key authentication", () => {
  const clock = manualClock();
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ clock });
  });

  const listWith = (headers: Record<string, string>) => t.call("GET", "/api/v1/api-keys", { headers });

  it.each([
    ["missing", {}, "missing API key"],
    ["not a bearer", { authorization: "Basic dXNlcjpwYXNz" }, "malformed Authorization header"],
    ["malformed", { authorization: "Bearer hunter2" }, "malformed API key"],
    ["unknown", { authorization: `Bearer berth_sk_${newId()}_${"A".repeat(43)}` }, "unknown API key"],
  ])("answers a %s key with 401 Unauthorized", async (_case, headers, message) => {
    const err = await errorOf(await listWith(headers));
    expect(err).toMatchObject({ status: 401, code: "Unauthorized" });
    expect(err.message).toContain(message);
  });

  it("answers a key whose secret was altered with 401", async () => {
    const tampered = `${t.admin.slice(0, -2)}${t.admin.endsWith("AA") ? "BB" : "AA"}`;
    expect((await errorOf(await listWith({ authorization: `Bearer ${tampered}` }))).status).toBe(401);
  });

  it("answers an expired key with 401 saying when it expired", async () => {
    const res = await t.call("POST", "/api/v1/api-keys", {
      token: t.admin,
      body: {
        name: "short-lived",
        role: "admin",
        expiresAt: new Date(clock.now().getTime() + 60_000).toISOString(),
      },
    });
    const { key } = (await res.json()) as { key: string };
    expect((await listWith({ authorization: `Bearer ${key}` })).status).toBe(200);
    clock.advance(61_000);
    const err = await errorOf(await listWith({ authorization: `Bearer ${key}` }));
    expect(err).toMatchObject({ status: 401, code: "Unauthorized" });
    expect(err.message).toContain("expired at");
  });

  it("answers a revoked key with 401 saying it was revoked", async () => {
    const key = await t.key("admin");
    const id = key.slice("berth_sk_".length, "berth_sk_".length + 26);
    expect((await t.call("DELETE", `/api/v1/api-keys/${id}`, { token: t.admin })).status).toBe(204);
    const err = await errorOf(await listWith({ authorization: `Bearer ${key}` }));
    expect(err).toMatchObject({ status: 401, code: "Unauthorized" });
    expect(err.message).toContain("revoked");
  });

  it("answers a member key on an admin route with 403 Forbidden", async () => {
    const member = await t.key("member");
    const err = await errorOf(await t.call("GET", "/api/v1/api-keys", { token: member }));
    expect(err).toMatchObject({ status: 403, code: "Forbidden" });
    expect(err.message).toContain("admin");
  });

  it("checks credentials before the body: a bad body without a key is 401, not 400, and writes nothing", async () => {
    const before = await snapshot(t.db);
    const res = await t.call("POST", "/api/v1/api-keys", { body: "{not json" });
    expect((await errorOf(res)).status).toBe(401);
    const member = await t.key("member");
    const after = await snapshot(t.db);
    const res2 = await t.call("POST", "/api/v1/api-keys", { token: member, body: { name: 1 } });
    expect((await errorOf(res2)).status).toBe(403);
    expect(await snapshot(t.db)).toBe(after);
    expect(before).not.toBe(after); // the member key itself was the only write
  });

  it("records lastUsedAt when a key is used", async () => {
    const key = await t.key("admin");
    await listWith({ authorization: `Bearer ${key}` });
    const id = key.slice(9, 35);
    const view = (await (await t.call("GET", `/api/v1/api-keys/${id}`, { token: t.admin })).json()) as {
      lastUsedAt?: string;
    };
    expect(view.lastUsedAt).toBe(clock.now().toISOString());
  });
});
