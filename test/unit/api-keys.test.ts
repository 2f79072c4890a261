import { beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../../shared/domain/tokens.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { snapshot } from "../helpers/db.ts";

interface KeyView {
  id: string;
  prefix: string;
  name: string;
  role: string;
  key?: string;
  createdAt: string;
  expiresAt?: string;
}

describe("/api/v1/api-keys", () => {
  const clock = manualClock();
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ clock });
  });

  const create = async (body: unknown, token = t.admin) => {
    const res = await t.call("POST", "/api/v1/api-keys", { token, body });
    return { res, body: (await res.json()) as KeyView };
  };

  it("creates a key, shows the secret once, and stores only its hash", async () => {
    const { res, body } = await create({ name: "ci", role: "member" });
    expect(res.status).toBe(201);
    expect(body).toMatchObject({ name: "ci", role: "member", prefix: `berth_sk_${body.id}` });
    expect(body.key).toMatch(new RegExp(`^berth_sk_${body.id}_[A-Za-z0-9_-]{43}$`));
    const stored = await snapshot(t.db);
    expect(stored).not.toContain(body.key);
    expect(stored).toContain(hashToken(body.key!));
    const got = (await (
      await t.call("GET", `/api/v1/api-keys/${body.id}`, { token: t.admin })
    ).json()) as KeyView;
    expect(got).not.toHaveProperty("key");
    expect(got.id).toBe(body.id);
  });

  it("makes new keys members unless asked otherwise", async () => {
    expect((await create({ name: "default-role" })).body.role).toBe("member");
  });

  it("lets a new key authenticate with its role", async () => {
    const { body } = await create({ name: "second admin", role: "admin" });
    expect((await t.call("GET", "/api/v1/api-keys", { token: body.key })).status).toBe(200);
  });

  it("accepts an expiry in the future and refuses one in the past", async () => {
    const future = new Date(clock.now().getTime() + 86_400_000).toISOString();
    expect((await create({ name: "temp", expiresAt: future })).body.expiresAt).toBe(future);
    const before = await snapshot(t.db);
    const past = await t.call("POST", "/api/v1/api-keys", {
      token: t.admin,
      body: { name: "late", expiresAt: "2020-01-01T00:00:00Z" },
    });
    expect(await errorOf(past)).toMatchObject({
      status: 400,
      code: "InvalidRequest",
      details: [{ path: "expiresAt" }],
    });
    expect(await snapshot(t.db)).toBe(before);
  });

  it("refuses an empty name", async () => {
    const err = await errorOf(
      await t.call("POST", "/api/v1/api-keys", { token: t.admin, body: { name: "  " } }),
    );
    expect(err).toMatchObject({ status: 400, details: [{ path: "name", message: "must not be empty" }] });
  });

  it("lists keys by prefix only, page by page, with the pagination headers", async () => {
    const ws = "paging";
    const admin = await t.workspace(ws);
    for (let i = 0; i < 4; i++) await create({ name: `k${i}` }, admin);
    const first = await t.call("GET", "/api/v1/api-keys?pageSize=2", { token: admin });
    const firstBody = (await first.json()) as { items: KeyView[]; nextPageToken?: string };
    expect(firstBody.items).toHaveLength(2);
    expect(first.headers.get("page-size")).toBe("2");
    expect(first.headers.get("next-page-token")).toBe(firstBody.nextPageToken);
    expect(first.headers.get("total-items")).toBeNull();
    for (const item of firstBody.items) expect(item).not.toHaveProperty("key");

    const names: string[] = firstBody.items.map((k) => k.name);
    let token = firstBody.nextPageToken;
    let last: Response | undefined;
    while (token) {
      last = await t.call("GET", `/api/v1/api-keys?pageSize=2&pageToken=${encodeURIComponent(token)}`, {
        token: admin,
      });
      const body = (await last.clone().json()) as { items: KeyView[]; nextPageToken?: string };
      names.push(...body.items.map((k) => k.name));
      token = body.nextPageToken;
    }
    expect(names).toEqual(["admin", "k0", "k1", "k2", "k3"]);
    expect(last!.headers.get("total-items")).toBe("5");
    expect(last!.headers.get("next-page-token")).toBeNull();
  });

  it("answers a single full page with Total-Items and no token", async () => {
    const admin = await t.workspace("single-page");
    const res = await t.call("GET", "/api/v1/api-keys", { token: admin });
    expect(res.headers.get("total-items")).toBe("1");
    expect(await res.json()).toEqual({ items: [expect.objectContaining({ name: "admin" })] });
  });

  describe("page tokens", () => {
    let admin: string;
    let token: string;
    beforeAll(async () => {
      admin = await t.workspace("tokens");
      for (let i = 0; i < 3; i++) await create({ name: `k${i}` }, admin);
      token = (
        (await (await t.call("GET", "/api/v1/api-keys?pageSize=1", { token: admin })).json()) as {
          nextPageToken: string;
        }
      ).nextPageToken;
    });

    it("refuses a tampered token with 400", async () => {
      const [body, mac] = token.split(".");
      const forged = Buffer.from(
        Buffer.from(body!, "base64url")
          .toString()
          .replace(/"n":\d+/, '"n":99'),
      ).toString("base64url");
      for (const bad of [`${forged}.${mac}`, `${token}x`, "abc", `${body}.`]) {
        const err = await errorOf(
          await t.call("GET", `/api/v1/api-keys?pageSize=1&pageToken=${encodeURIComponent(bad)}`, {
            token: admin,
          }),
        );
        expect(err).toMatchObject({ status: 400, code: "InvalidRequest", details: [{ path: "pageToken" }] });
      }
    });

    it("refuses a token from another workspace", async () => {
      const other = await t.workspace("tokens-other");
      const err = await errorOf(
        await t.call("GET", `/api/v1/api-keys?pageToken=${encodeURIComponent(token)}`, { token: other }),
      );
      expect(err).toMatchObject({ status: 400, code: "InvalidRequest" });
      expect(err.message).toContain("another list");
    });

    it("refuses a token from another query", async () => {
      const err = await errorOf(
        await t.call("GET", `/api/v1/api-keys?includeRevoked=true&pageToken=${encodeURIComponent(token)}`, {
          token: admin,
        }),
      );
      expect(err).toMatchObject({ status: 400, code: "InvalidRequest" });
    });

    it("accepts a token with another page size", async () => {
      const res = await t.call("GET", `/api/v1/api-keys?pageSize=10&pageToken=${encodeURIComponent(token)}`, {
        token: admin,
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { items: unknown[] }).items).toHaveLength(3);
    });
  });

  it("revokes a key idempotently and keeps it out of the list", async () => {
    const { body } = await create({ name: "to-revoke" });
    expect((await t.call("DELETE", `/api/v1/api-keys/${body.id}`, { token: t.admin })).status).toBe(204);
    const before = await snapshot(t.db);
    expect((await t.call("DELETE", `/api/v1/api-keys/${body.id}`, { token: t.admin })).status).toBe(204);
    expect(await snapshot(t.db)).toBe(before);
    const list = (await (await t.call("GET", "/api/v1/api-keys", { token: t.admin })).json()) as {
      items: KeyView[];
    };
    expect(list.items.map((k) => k.id)).not.toContain(body.id);
    const withRevoked = (await (
      await t.call("GET", "/api/v1/api-keys?includeRevoked=true", { token: t.admin })
    ).json()) as { items: KeyView[] };
    expect(withRevoked.items.map((k) => k.id)).toContain(body.id);
  });

  it("answers another workspace's key id with 404 on get and delete, and leaves it working", async () => {
    const otherAdmin = await t.workspace("other");
    const { body } = await create({ name: "theirs", role: "admin" }, otherAdmin);
    const before = await snapshot(t.db);
    expect(
      await errorOf(await t.call("DELETE", `/api/v1/api-keys/${body.id}`, { token: t.admin })),
    ).toMatchObject({
      status: 404,
      code: "NotFound",
    });
    expect((await t.call("GET", `/api/v1/api-keys/${body.id}`, { token: t.admin })).status).toBe(404);
    expect(await snapshot(t.db)).toBe(before);
    expect((await t.call("GET", "/api/v1/api-keys", { token: body.key })).status).toBe(200);
    const mine = (await (await t.call("GET", "/api/v1/api-keys", { token: t.admin })).json()) as {
      items: KeyView[];
    };
    expect(mine.items.map((k) => k.id)).not.toContain(body.id);
  });

  it("answers an unknown key id with 404", async () => {
    expect((await t.call("DELETE", "/api/v1/api-keys/nope", { token: t.admin })).status).toBe(404);
  });
});
