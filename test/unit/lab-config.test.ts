import { describe, expect, it } from "vitest";
import { errorOf, testApp } from "../helpers/app.ts";
import { snapshot } from "../helpers/db.ts";

/** The lab config and per-user quotas (specs/labs.md §2): admin only, checked against the workspace. */
describe("lab config", () => {
  it("is NotConfigured until written; takes its defaults; refuses what the spec refuses with nothing stored; writes at a revision", async () => {
    const t = await testApp();
    const member = await t.key("member");
    const call = (method: string, path: string, body?: unknown, token = t.admin) =>
      t.call(method, path, { token, body });
    const notYet = await errorOf(await call("GET", "/api/v1/labs/config"));
    expect(notYet).toMatchObject({ status: 404, code: "NotConfigured" });
    expect(notYet.message).toContain("berth labs config set");
    for (const name of ["small", "medium"])
      expect((await call("POST", "/api/v1/profiles", { name })).status).toBe(201);
    await call("POST", "/api/v1/secrets", { name: "butler", type: "Environment", data: "tok" });
    await call("POST", "/api/v1/secrets", { name: "cert", type: "File", data: "pem" });
    const config = {
      sizes: ["small", "medium"],
      defaultSize: "medium",
      images: {
        recommended: "ghcr.io/acme/lab:recommended",
        menu: [{ reference: "ghcr.io/acme/lab:2026.07", name: "July 2026" }],
      },
      secrets: [{ name: "butler", env: "BUTLER_TOKEN" }],
    };
    const refusals: [Record<string, unknown>, number, RegExp, string?][] = [
      [{ ...config, sizes: ["small", "huge"] }, 400, /size huge is not a resource profile/],
      [{ ...config, defaultSize: "large" }, 400, /defaultSize large is not one of the sizes/],
      [{ ...config, env: { JUPYTERHUB_API_URL: "x" } }, 400, /env JUPYTERHUB_API_URL is set by Berth/],
      [{ ...config, env: { DEBUG: "1" } }, 400, /env DEBUG is set by Berth/],
      [{ ...config, env: { BERTH_LAB_TOKEN: "x" } }, 400, /env BERTH_LAB_TOKEN is set by Berth/],
      [{ ...config, secrets: [{ name: "nope", env: "X" }] }, 400, /secret nope not found/],
      [{ ...config, secrets: [{ name: "cert", env: "X" }] }, 400, /cert is a File secret/],
      [{ ...config, imagez: {} }, 400, /imagez/],
      [{ ...config, sizes: [] }, 400, /sizes/],
      [config, 403, /admin/, member],
    ];
    for (const [body, status, message, token] of refusals) {
      const before = await snapshot(t.db);
      const err = await errorOf(await call("PUT", "/api/v1/labs/config", body, token));
      expect(err.status, JSON.stringify(body).slice(0, 120)).toBe(status);
      expect(`${err.message} ${JSON.stringify(err.details ?? "")}`).toMatch(message);
      expect(await snapshot(t.db)).toBe(before);
    }
    const put = await call("PUT", "/api/v1/labs/config", config);
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({
      revision: 1,
      enabled: true,
      queues: ["labs"],
      port: 8888,
      readiness: { path: "/api", timeoutSeconds: 2 },
      spawnTimeoutSeconds: 600,
      maxDurationSeconds: 43200,
      stopGracePeriodSeconds: 1,
      images: {
        allowOtherImages: false,
        prepull: { enabled: true, timeoutSeconds: 600, refreshSeconds: 300 },
      },
      quota: { default: { cpu: 8, memoryGiB: 32, gpus: 1, spawn: true } },
      fileserver: { enabled: false },
    });
    expect((await call("GET", "/api/v1/labs/config", undefined, member)).status).toBe(403);
    expect(((await (await call("GET", "/api/v1/labs/config")).json()) as { revision: number }).revision).toBe(
      1,
    );
    // At a revision: a stale one is 409 and changes nothing; the current one writes.
    expect(
      (
        await errorOf(
          await call("PUT", "/api/v1/labs/config", { ...config, port: 9999, expectedRevision: 7 }),
        )
      ).status,
    ).toBe(409);
    const second = await call("PUT", "/api/v1/labs/config", { ...config, port: 9999, expectedRevision: 1 });
    expect(await second.json()).toMatchObject({ revision: 2, port: 9999 });
    // Another workspace has none.
    const other = await t.workspace("labs-other");
    expect((await call("GET", "/api/v1/labs/config", undefined, other)).status).toBe(404);
  });

  it("overrides a user's quota field by field; null takes a field back to the default", async () => {
    const t = await testApp();
    const call = (method: string, path: string, body?: unknown) =>
      t.call(method, path, { token: t.admin, body });
    expect((await errorOf(await call("PUT", "/api/v1/labs/quotas/alice", { gpus: 0 }))).code).toBe(
      "NotConfigured",
    );
    await call("POST", "/api/v1/profiles", { name: "small" });
    await call("PUT", "/api/v1/labs/config", {
      sizes: ["small"],
      defaultSize: "small",
      images: { recommended: "lab:1" },
      quota: { default: { cpu: 4, memoryGiB: 16, gpus: 1, spawn: true } },
    });
    const set = await call("PUT", "/api/v1/labs/quotas/alice", { gpus: 0, spawn: false });
    expect(await set.json()).toEqual({
      user: "alice",
      quota: { cpu: 4, memoryGiB: 16, gpus: 0, spawn: false },
      override: { gpus: 0, spawn: false },
    });
    for (const body of [{ gpus: -1 }, { gpu: 2 }, { spawn: "yes" }]) {
      const before = await snapshot(t.db);
      const err = await errorOf(await call("PUT", "/api/v1/labs/quotas/alice", body));
      expect(err).toMatchObject({ status: 400, code: "InvalidRequest" });
      expect(await snapshot(t.db)).toBe(before);
    }
    const back = await call("PUT", "/api/v1/labs/quotas/alice", { spawn: null });
    expect(await back.json()).toMatchObject({ quota: { gpus: 0, spawn: true }, override: { gpus: 0 } });
    await call("PUT", "/api/v1/labs/quotas/alice", { gpus: null });
    expect(await (await call("GET", "/api/v1/labs/quotas/alice")).json()).toEqual({
      user: "alice",
      quota: { cpu: 4, memoryGiB: 16, gpus: 1, spawn: true },
      override: {},
    });
  });
});
