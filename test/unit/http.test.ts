import { gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { registerAgent } from "../helpers/agents.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { snapshot } from "../helpers/db.ts";

describe("the HTTP app", () => {
  let t: TestApp;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    t = await testApp({
      logger: {
        debug: (msg, f) => lines.push({ msg, level: "debug", ...f }),
        info: (msg, f) => lines.push({ msg, ...f }),
        warn() {},
        error: (msg, f) => lines.push({ msg, ...f }),
      },
    });
  });

  it("answers GET /healthz without credentials", async () => {
    const res = await t.call("GET", "/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok" });
  });

  it("echoes a caller's X-Request-Id and generates one when absent", async () => {
    const given = await t.call("GET", "/healthz", { headers: { "x-request-id": "trace-123" } });
    expect(given.headers.get("x-request-id")).toBe("trace-123");
    const generated = await t.call("GET", "/healthz");
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("logs one structured line per request with method, path, status, duration, request id and workspace", async () => {
    lines.length = 0;
    await t.call("GET", "/api/v1/api-keys", { token: t.admin, headers: { "x-request-id": "log-me" } });
    const requestLines = lines.filter((l) => l.msg === "request");
    expect(requestLines).toHaveLength(1);
    expect(requestLines[0]).toMatchObject({
      method: "GET",
      path: "/api/v1/api-keys",
      status: 200,
      requestId: "log-me",
      workspace: "default",
    });
    expect(typeof requestLines[0]!.durationMs).toBe("number");
    expect(JSON.stringify(lines)).not.toContain(t.admin);
  });

  it("logs routine agent traffic and health checks at debug, unless it fails; everything else at info", async () => {
    const agent = await registerAgent(t);
    lines.length = 0;
    await agent.poll(0);
    await t.call("GET", "/healthz");
    await t.call("GET", "/api/v1/agent/reservations?from=0", { token: "berth_st_nope" });
    const logged = lines.filter((l) => l.msg === "request").map((l) => `${l.level ?? "info"} ${l.status}`);
    expect(logged).toEqual(["debug 200", "debug 200", "info 401"]);
  });

  it("answers an unknown route with 404 in the envelope", async () => {
    const res = await t.call("GET", "/api/v1/nowhere");
    expect(await errorOf(res)).toMatchObject({
      status: 404,
      code: "NotFound",
      message: "no route for GET /api/v1/nowhere",
    });
  });

  it("serves the OpenAPI document generated from the routes, and a docs page", async () => {
    const doc = (await (await t.call("GET", "/api/v1/openapi.json")).json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths["/api/v1/api-keys"]!)).toEqual(expect.arrayContaining(["get", "post"]));
    expect(doc.paths["/api/v1/api-keys/{id}"]).toHaveProperty("delete");
    expect(doc.components.schemas).toHaveProperty("CreateApiKeyRequest");
    // The job as the API shows it: the Launcher fields, none of Berth's bookkeeping.
    const job = doc.components.schemas.Job as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(job.properties)).toEqual(expect.arrayContaining(["id", "status", "exitCode", "gpus"]));
    for (const internal of ["workspaceId", "version", "deviceId", "cloudReservationId", "quotaHeld"])
      expect(job.properties).not.toHaveProperty(internal);
    expect(job.required).toEqual(["id"]);
    const docs = await t.call("GET", "/api/v1/docs");
    expect(docs.status).toBe(200);
    // Everything the page loads is this server's own: the assets ship in the package (no CDN).
    const page = await docs.text();
    expect(page).not.toMatch(/https?:\/\//);
    expect(docs.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await (await t.call("GET", "/api/v1/docs/init.js")).text()).toContain("/api/v1/openapi.json");
    for (const src of page.match(/(?:href|src)="([^"]+)"/g)!.map((m) => m.split('"')[1]!)) {
      expect((await t.call("GET", src)).status, src).toBe(200);
    }
    expect((await t.call("GET", "/api/v1/docs/assets/..%2Fpackage.json")).status).toBe(404);
  });

  it("serves the dashboard at /ui/ (the page for every path under it, its files cached for good) and leads / there", async () => {
    const root = await t.call("GET", "/");
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/ui/");
    const page = await t.call("GET", "/ui/jobs/01abc");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const csp = page.headers.get("content-security-policy")!;
    for (const rule of [
      "default-src 'self'",
      "script-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
    ])
      expect(csp).toContain(rule);
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//); // nothing from elsewhere: it works air-gapped
    const assets = html.match(/\/ui\/assets\/[^"]+/g)!;
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const src of assets) {
      const res = await t.call("GET", src);
      expect(res.status, src).toBe(200);
      expect(res.headers.get("cache-control")).toContain("immutable");
      expect(res.headers.get("content-encoding")).toBeNull();
      // Gzipped for a client that says it takes it: the same bytes.
      const gz = await t.call("GET", src, { headers: { "accept-encoding": "gzip, br" } });
      expect(gz.headers.get("content-encoding")).toBe("gzip");
      expect(
        gunzipSync(Buffer.from(await gz.arrayBuffer())).equals(Buffer.from(await res.arrayBuffer())),
      ).toBe(true);
    }
    expect(await errorOf(await t.call("GET", "/ui/assets/nothing.js"))).toMatchObject({ status: 404 });
    expect((await t.call("GET", "/ui/assets/..%2F..%2Fpackage.json")).status).toBe(404);
    expect((await t.call("GET", "/ui")).headers.get("location")).toBe("/ui/");
  });

  it("leads / to the docs on a host without a dashboard, and says how to get one at /ui/", async () => {
    const bare = await testApp();
    bare.deps.dashboardAsset = async () => undefined;
    expect((await bare.call("GET", "/")).headers.get("location")).toBe("/api/v1/docs");
    expect(await errorOf(await bare.call("GET", "/ui/"))).toMatchObject({
      status: 404,
      code: "NotFound",
      message: expect.stringContaining("npm run build"),
    });
  });

  it("tags JSON reads with an ETag and answers 304 without a body when nothing changed", async () => {
    const first = await t.call("GET", "/api/v1/devices", { token: t.admin });
    const tag = first.headers.get("etag")!;
    expect(tag).toMatch(/^W\/"/);
    expect(first.headers.get("cache-control")).toBe("no-store");
    const again = await t.call("GET", "/api/v1/devices", {
      token: t.admin,
      headers: { "if-none-match": tag },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    // A change: the old tag no longer matches, the new answer has a new one.
    const groupsTag = (await t.call("GET", "/api/v1/node-groups", { token: t.admin })).headers.get("etag")!;
    await t.call("POST", "/api/v1/node-groups", { token: t.admin, body: { name: "etag-group" } });
    const groups = await t.call("GET", "/api/v1/node-groups", {
      token: t.admin,
      headers: { "if-none-match": groupsTag },
    });
    expect(groups.status).toBe(200);
    expect(groups.headers.get("etag")).not.toBe(groupsTag);
    // Errors and streams carry none.
    expect((await t.call("GET", "/api/v1/devices")).headers.get("etag")).toBeNull();
  });

  it("says which key a request is made with (GET /api/v1/whoami), for any key, and 401 without one", async () => {
    const member = await t.key("member");
    const me = (await (await t.call("GET", "/api/v1/whoami", { token: member })).json()) as Record<
      string,
      string
    >;
    expect(me).toMatchObject({ workspaceId: "default", name: "member-key", role: "member" });
    expect(me.keyId).toMatch(/^[0-9a-z]{26}$/);
    expect(await errorOf(await t.call("GET", "/api/v1/whoami"))).toMatchObject({ status: 401 });
  });

  describe("bad input gets a 4xx with a code and changes nothing", () => {
    const bad = async (req: () => Promise<Response>) => {
      const before = await snapshot(t.db);
      const res = await req();
      expect(await snapshot(t.db)).toBe(before);
      return errorOf(res);
    };

    it("malformed JSON → 400 InvalidRequest", async () => {
      const err = await bad(() => t.call("POST", "/api/v1/api-keys", { token: t.admin, body: "{name:" }));
      expect(err).toMatchObject({
        status: 400,
        code: "InvalidRequest",
        message: "request body is empty or not valid JSON",
      });
    });

    it("an empty body on a JSON route → 400 InvalidRequest", async () => {
      const err = await bad(() =>
        t.call("POST", "/api/v1/api-keys", {
          token: t.admin,
          headers: { "content-type": "application/json" },
        }),
      );
      expect(err).toMatchObject({ status: 400, code: "InvalidRequest" });
    });

    it("a non-JSON content type → 400 InvalidRequest naming the expected type", async () => {
      const err = await bad(() =>
        t.call("POST", "/api/v1/api-keys", {
          token: t.admin,
          body: JSON.stringify({ name: "ci" }),
          headers: { "content-type": "text/plain" },
        }),
      );
      expect(err).toMatchObject({ status: 400, code: "InvalidRequest" });
      expect(err.message).toContain("application/json");
    });

    it("a body over 1 MiB → 413 PayloadTooLarge", async () => {
      const err = await bad(() =>
        t.call("POST", "/api/v1/api-keys", { token: t.admin, body: { name: "x".repeat(1024 * 1024 + 10) } }),
      );
      expect(err).toMatchObject({ status: 413, code: "PayloadTooLarge" });
    });

    it("wrong field types → 400 with every offending field path in details", async () => {
      const err = await bad(() =>
        t.call("POST", "/api/v1/api-keys", {
          token: t.admin,
          body: { name: 42, role: "root", expiresAt: "next tuesday" },
        }),
      );
      expect(err).toMatchObject({ status: 400, code: "InvalidRequest" });
      expect((err.details as { path: string }[]).map((d) => d.path).sort()).toEqual([
        "expiresAt",
        "name",
        "role",
      ]);
      expect(err.message).toContain("name:");
    });

    it("a pageSize above 500 → 400 naming pageSize", async () => {
      const err = await bad(() => t.call("GET", "/api/v1/api-keys?pageSize=501", { token: t.admin }));
      expect(err).toMatchObject({ status: 400, code: "InvalidRequest", details: [{ path: "pageSize" }] });
      expect(err.message).toContain("at most 500");
    });

    it("a pageSize that is not a whole number → 400", async () => {
      const err = await bad(() => t.call("GET", "/api/v1/api-keys?pageSize=ten", { token: t.admin }));
      expect(err).toMatchObject({ status: 400, details: [{ path: "pageSize" }] });
    });
  });

  it("ignores unknown fields", async () => {
    const res = await t.call("POST", "/api/v1/api-keys", {
      token: t.admin,
      body: { name: "extra", role: "member", colour: "blue" },
    });
    expect(res.status).toBe(201);
    expect(await res.json()).not.toHaveProperty("colour");
  });
});
