import { beforeAll, describe, expect, it } from "vitest";
import { decrypt, secretAad } from "../../shared/domain/secret-envelope.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { snapshot } from "../helpers/db.ts";

const BASE = "/api/v1/namespaces/default/secrets";

describe("secrets (secrets.md §1, §2, §6)", () => {
  let t: TestApp;
  let member: string;
  const create = (body: Record<string, unknown>, token = t.admin) => t.call("POST", BASE, { token, body });
  const unchanged = async (req: () => Promise<Response>) => {
    const before = await snapshot(t.db);
    const res = await req();
    expect(await snapshot(t.db)).toBe(before);
    return errorOf(res);
  };
  beforeAll(async () => {
    t = await testApp();
    member = await t.key("member");
  });

  it("creates a secret whose value no answer holds, stored only encrypted under the workspace's key", async () => {
    const res = await create({ name: "hf", type: "Environment", data: "hf_value_123456", description: "HF" });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      name: "hf",
      namespace: "default",
      type: "Environment",
      version: 1,
      sizeBytes: 15,
    });
    expect(body.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    for (const hidden of ["data", "ciphertext", "keyId", "revision", "workspaceId"])
      expect(body).not.toHaveProperty(hidden);
    const stored = await snapshot(t.db);
    for (const form of ["hf_value_123456", Buffer.from("hf_value_123456").toString("base64")])
      expect(stored).not.toContain(form);
    // It is there, though: the workspace's data key opens it, with its place and version.
    const item = (await t.deps.repos.secrets.get("default", "default", "hf"))!;
    const key = await t.deps.secretKeyring.get("default", item.keyId);
    expect(decrypt(key, item.ciphertext, secretAad("default", "default", "hf", 1)).toString()).toBe(
      "hf_value_123456",
    );
    for (const path of [`${BASE}/hf`, BASE]) {
      const read = await (await t.call("GET", path, { token: member })).text();
      expect(read).not.toContain("hf_value_123456");
    }
  });

  it("takes base64 (as Synpse sends it), lists by type, and shows any key the metadata", async () => {
    expect(
      (
        await create({
          name: "db",
          type: "File",
          data: Buffer.from('{"pw":"x"}').toString("base64"),
          encoding: "base64",
        })
      ).status,
    ).toBe(201);
    expect((await t.deps.repos.secrets.get("default", "default", "db"))!.sizeBytes).toBe(10);
    const files = (await (await t.call("GET", `${BASE}?type=File`, { token: member })).json()) as {
      items: { name: string }[];
    };
    expect(files.items.map((s) => s.name)).toEqual(["db"]);
    const all = (await (await t.call("GET", BASE, { token: member })).json()) as {
      items: { name: string }[];
    };
    expect(all.items.map((s) => s.name)).toEqual(["db", "hf"]);
  });

  it("refuses bad input with 400 naming the field, a taken name with 409, a member key with 403; nothing is stored", async () => {
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ name: "Bad Name", type: "Environment", data: "x" }, 400, /name/],
      [{ name: "ok", type: "Secretish", data: "x" }, 400, /type must be Environment or File/],
      [{ name: "ok", type: "Environment" }, 400, /data/],
      [{ name: "ok", type: "Environment", data: "not base64!", encoding: "base64" }, 400, /not valid base64/],
      [{ name: "ok", type: "Environment", data: "x".repeat(64 * 1024 + 1) }, 400, /at most 65536/],
      [
        { name: "ok", type: "Environment", data: Buffer.from("a\0b").toString("base64"), encoding: "base64" },
        400,
        /an Environment secret cannot hold a NUL byte/,
      ],
      [
        { name: "hf", type: "Environment", data: "again" },
        409,
        /secret hf already exists in namespace default/,
      ],
    ];
    for (const [body, status, message] of cases) {
      const err = await unchanged(() => create(body));
      expect(err.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(`${err.message} ${JSON.stringify(err.details ?? "")}`).toMatch(message);
    }
    expect(
      (await unchanged(() => create({ name: "m", type: "Environment", data: "x" }, member))).status,
    ).toBe(403);
    expect(
      (await unchanged(() => t.call("PATCH", `${BASE}/hf`, { token: member, body: { data: "y" } }))).status,
    ).toBe(403);
    expect((await unchanged(() => t.call("DELETE", `${BASE}/hf`, { token: member }))).status).toBe(403);
    expect(await errorOf(await t.call("GET", `${BASE}?type=Secretish`, { token: t.admin }))).toMatchObject({
      status: 400,
      message: expect.stringContaining("type must be Environment or File"),
    });
  });

  it("updates: the same value keeps the version, a new one bumps it; the type never changes; expectedVersion guards", async () => {
    await create({ name: "tok", type: "Environment", data: "one-value" });
    const patch = (body: Record<string, unknown>) => t.call("PATCH", `${BASE}/tok`, { token: t.admin, body });
    const first = (await (await t.call("GET", `${BASE}/tok`, { token: t.admin })).json()) as {
      fingerprint: string;
    };
    const same = (await (await patch({ data: "one-value" })).json()) as {
      version: number;
      fingerprint: string;
    };
    expect(same).toMatchObject({ version: 1, fingerprint: first.fingerprint });
    const described = (await (
      await patch({ description: "rotated monthly", allowMemberJobs: true })
    ).json()) as Record<string, unknown>;
    expect(described).toMatchObject({ version: 1, description: "rotated monthly", allowMemberJobs: true });
    const next = (await (await patch({ data: "two-value", expectedVersion: 1 })).json()) as {
      version: number;
      fingerprint: string;
    };
    expect(next.version).toBe(2);
    expect(next.fingerprint).not.toBe(first.fingerprint);
    expect(await unchanged(() => patch({ data: "three", expectedVersion: 1 }))).toMatchObject({
      status: 409,
      message: "secret tok changed since version 1 (now 2)",
      details: { current: 2 },
    });
    expect(await unchanged(() => patch({ type: "File" }))).toMatchObject({
      status: 400,
      message: "secret type cannot be changed",
    });
    // The new version is encrypted as version 2: the old AAD does not open it.
    const item = (await t.deps.repos.secrets.get("default", "default", "tok"))!;
    const key = await t.deps.secretKeyring.get("default", item.keyId);
    expect(decrypt(key, item.ciphertext, secretAad("default", "default", "tok", 2)).toString()).toBe(
      "two-value",
    );
    expect(() => decrypt(key, item.ciphertext, secretAad("default", "default", "tok", 1))).toThrow();
  });

  it("answers 404 for another workspace's secret, an unknown namespace or name; deletes once", async () => {
    const other = await t.workspace("secrets-other");
    expect((await errorOf(await t.call("GET", `${BASE}/hf`, { token: other }))).status).toBe(404);
    expect(
      await errorOf(await t.call("GET", "/api/v1/namespaces/nowhere/secrets", { token: t.admin })),
    ).toMatchObject({
      status: 404,
      message: "namespace nowhere not found",
    });
    expect((await errorOf(await t.call("GET", `${BASE}/nope`, { token: t.admin }))).message).toBe(
      "secret nope not found in namespace default",
    );
    expect((await t.call("DELETE", `${BASE}/db`, { token: t.admin })).status).toBe(204);
    expect((await errorOf(await t.call("DELETE", `${BASE}/db`, { token: t.admin }))).status).toBe(404);
    expect((await errorOf(await t.call("DELETE", `${BASE}/hf`, { token: other }))).status).toBe(404);
    expect((await t.call("GET", `${BASE}/hf`, { token: t.admin })).status).toBe(200);
  });

  it("closes its races: of creates of one name one wins; of updates from one version one wins, the others 409", async () => {
    const created = await Promise.all(
      Array.from({ length: 5 }, (_, i) => create({ name: "raced", type: "Environment", data: `value-${i}` })),
    );
    expect(created.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    const patched = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        t.call("PATCH", `${BASE}/raced`, { token: t.admin, body: { data: `next-${i}`, expectedVersion: 1 } }),
      ),
    );
    expect(patched.map((r) => r.status).sort()).toEqual([200, 409, 409, 409]);
    expect((await t.deps.repos.secrets.get("default", "default", "raced"))!.version).toBe(2);
  });
});
