import { beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../shared/adapters/logger.ts";
import { sweepNamespace, sweepNamespaces } from "../../shared/usecases/namespaces/sweep.ts";
import { removeSecret } from "../../shared/usecases/secrets/secrets.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { snapshot } from "../helpers/db.ts";
import { aSecret } from "../helpers/secrets.ts";

const NS = "/api/v1/namespaces";

type View = { name: string; status: string; secretCount: number; applicationCount: number };

describe("namespaces (applications.md §1) and what lives in them", () => {
  let t: TestApp;
  let member: string;
  const call = (method: string, path: string, body?: unknown, token = t.admin) =>
    t.call(method, path, { token, body });
  const json = async <T>(res: Promise<Response> | Response) => (await (await res).json()) as T;
  const secret = (ns: string, name: string, type = "Environment", token = t.admin) =>
    call("POST", `${NS}/${ns}/secrets`, { name, type, data: `value-of-${name}` }, token);
  const unchanged = async (req: () => Promise<Response>) => {
    const before = await snapshot(t.db);
    const res = await req();
    expect(await snapshot(t.db)).toBe(before);
    return errorOf(res);
  };
  /** Turns a namespace `deleting` as a crashed delete would leave it: nothing swept yet. */
  const leaveDeleting = async (name: string) => {
    const ns = (await t.deps.repos.namespaces.get("default", name))!;
    await t.deps.repos.namespaces.replace(ns, { ...ns, status: "deleting", revision: ns.revision + 1 });
  };
  beforeAll(async () => {
    t = await testApp();
    member = await t.key("member");
  });

  it("always has default (made on first use, never deletable); creates others once; any key reads them", async () => {
    const first = await json<{ items: View[] }>(call("GET", NS, undefined, member));
    expect(first.items).toEqual([
      expect.objectContaining({ name: "default", status: "active", secretCount: 0, applicationCount: 0 }),
    ]);
    const created = await call("POST", NS, { name: "team-a", description: "A's" });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ name: "team-a", status: "active", secretCount: 0 });
    expect(await unchanged(() => call("POST", NS, { name: "team-a" }))).toMatchObject({
      status: 409,
      message: "namespace team-a already exists",
    });
    expect((await unchanged(() => call("POST", NS, { name: "Team A" }))).status).toBe(400);
    expect((await unchanged(() => call("POST", NS, { name: "team-b" }, member))).status).toBe(403);
    expect(await unchanged(() => call("DELETE", `${NS}/default`))).toMatchObject({
      status: 400,
      message: expect.stringContaining("default namespace cannot be deleted"),
    });
    expect((await unchanged(() => call("DELETE", `${NS}/team-a`, undefined, member))).status).toBe(403);
    expect((await errorOf(await call("GET", `${NS}/nowhere`))).status).toBe(404);
    const other = await t.workspace("ns-other");
    expect((await errorOf(await call("GET", `${NS}/team-a`, undefined, other))).status).toBe(404);
    expect((await errorOf(await call("DELETE", `${NS}/team-a`, undefined, other))).status).toBe(404);
    const listed = await json<{ items: View[] }>(call("GET", NS, undefined, member));
    expect(listed.items.map((n) => n.name)).toEqual(["default", "team-a"]);
    const patched = await json<{ description: string }>(
      call("PATCH", `${NS}/team-a`, { description: "team A's secrets" }),
    );
    expect(patched.description).toBe("team A's secrets");
  });

  it("keeps secrets apart per namespace and counts them; /secrets is the default namespace", async () => {
    await call("POST", NS, { name: "apart" });
    expect((await secret("apart", "hf")).status).toBe(201);
    expect((await secret("apart", "db", "File")).status).toBe(201);
    expect(
      (await call("POST", "/api/v1/secrets", { name: "hf", type: "Environment", data: "d" })).status,
    ).toBe(201);
    expect(await json<View>(call("GET", `${NS}/apart`))).toMatchObject({ secretCount: 2 });
    const inApart = await json<{ items: { name: string }[] }>(call("GET", `${NS}/apart/secrets`));
    expect(inApart.items.map((s) => s.name)).toEqual(["db", "hf"]);
    // The shorthand and the long form are the same secrets.
    const short = await json<{ items: { name: string; namespace: string }[] }>(
      call("GET", "/api/v1/secrets"),
    );
    expect(short.items.map((s) => `${s.namespace}/${s.name}`)).toContain("default/hf");
    expect(await json(call("GET", "/api/v1/secrets/hf"))).toEqual(
      await json(call("GET", `${NS}/default/secrets/hf`)),
    );
    expect((await call("DELETE", "/api/v1/secrets/hf")).status).toBe(204);
    expect((await call("GET", `${NS}/default/secrets/hf`)).status).toBe(404);
    expect((await call("DELETE", `${NS}/apart/secrets/db`)).status).toBe(204);
    expect(await json<View>(call("GET", `${NS}/apart`))).toMatchObject({ secretCount: 1 });
    // A secret of an unknown namespace is a 404, and nothing is stored.
    expect(await unchanged(() => secret("nowhere", "x"))).toMatchObject({
      status: 404,
      message: "namespace nowhere not found",
    });
  });

  it("deletes a namespace with everything in it (202), then it is gone and its name free again", async () => {
    await call("POST", NS, { name: "doomed" });
    for (const name of ["a", "b", "c"]) await secret("doomed", name);
    const quotaBefore = await json<{ use: { secrets: number } }>(call("GET", "/api/v1/quotas"));
    const res = await call("DELETE", `${NS}/doomed`);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ name: "doomed", status: "deleting" });
    expect((await call("GET", `${NS}/doomed`)).status).toBe(404);
    expect(await t.deps.repos.secrets.list("default", "doomed", { limit: 10 })).toEqual({ items: [] });
    const quotaAfter = await json<{ use: { secrets: number } }>(call("GET", "/api/v1/quotas"));
    expect(quotaAfter.use.secrets).toBe(quotaBefore.use.secrets - 3);
    expect((await call("POST", NS, { name: "doomed" })).status).toBe(201);
    expect(await json<View>(call("GET", `${NS}/doomed`))).toMatchObject({ secretCount: 0, status: "active" });
  });

  it("refuses anything new in a namespace being deleted (409 NamespaceDeleting); the sweeper finishes it", async () => {
    await call("POST", NS, { name: "half" });
    await secret("half", "left");
    await leaveDeleting("half");
    expect(await unchanged(() => secret("half", "new"))).toMatchObject({
      status: 409,
      code: "NamespaceDeleting",
      message: expect.stringContaining("namespace half is being deleted"),
    });
    expect((await unchanged(() => call("POST", NS, { name: "half" }))).code).toBe("NamespaceDeleting");
    expect((await unchanged(() => call("PATCH", `${NS}/half`, { description: "x" }))).code).toBe(
      "NamespaceDeleting",
    );
    expect((await unchanged(() => call("PATCH", `${NS}/half/secrets/left`, { data: "new" }))).code).toBe(
      "NamespaceDeleting",
    );
    // Deleting again answers the same, and its sweep is what a sweeper would do.
    expect((await call("DELETE", `${NS}/half`)).status).toBe(202);
    expect((await call("GET", `${NS}/half`)).status).toBe(404);

    await call("POST", NS, { name: "crashed" });
    for (const name of ["one", "two", "three"]) await secret("crashed", name);
    await leaveDeleting("crashed");
    // A sweep with a budget (a request's share) deletes that many and leaves the namespace to the sweeper.
    const deps = { ...t.deps, logger: silentLogger };
    const crashed = (await t.deps.repos.namespaces.get("default", "crashed"))!;
    expect(await sweepNamespace(deps, crashed, 2)).toBe(false);
    expect(await json<View>(call("GET", `${NS}/crashed`))).toMatchObject({
      status: "deleting",
      secretCount: 1,
    });
    expect(await sweepNamespaces(deps)).toBe(1);
    expect((await call("GET", `${NS}/crashed`)).status).toBe(404);
    expect(await t.deps.repos.namespaces.deleting(10)).toEqual([]);
  });

  it("closes the race of creates against the namespace's deletion: nothing is left behind", async () => {
    await call("POST", NS, { name: "racing" });
    await secret("racing", "seed");
    const before = await json<{ use: { secrets: number } }>(call("GET", "/api/v1/quotas"));
    const results = await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => secret("racing", `s${i}`)),
      call("DELETE", `${NS}/racing`),
    ]);
    for (const r of results.slice(0, 6)) expect([201, 404, 409]).toContain(r.status);
    // Whatever got in before the delete was swept with it.
    await sweepNamespaces({ ...t.deps, logger: silentLogger });
    expect((await call("GET", `${NS}/racing`)).status).toBe(404);
    expect(await t.deps.repos.secrets.list("default", "racing", { limit: 10 })).toEqual({ items: [] });
    const after = await json<{ use: { secrets: number } }>(call("GET", "/api/v1/quotas"));
    expect(after.use.secrets).toBe(before.use.secrets - 1);
  });

  it("deletes a secret stored before counts were kept without taking any count below zero", async () => {
    const fresh = await testApp();
    const uncounted = aSecret("default", { name: "legacy" });
    expect((await fresh.deps.repos.commit([fresh.deps.repos.secrets.create(uncounted)])).ok).toBe(true);
    expect((await fresh.call("DELETE", "/api/v1/secrets/legacy", { token: fresh.admin })).status).toBe(204);
    const raw = await fresh.db.get({ pk: "WS#default", sk: "QUOTA" });
    expect(raw?.usedSecrets ?? 0).toBe(0);
    expect((await fresh.db.get({ pk: "WS#default", sk: "NS#default" }))?.secretCount).toBe(0);
  });

  it("never sweeps a namespace made again under the name of one deleted (a stale deletion read)", async () => {
    await call("POST", NS, { name: "reborn" });
    await leaveDeleting("reborn");
    const stale = (await t.deps.repos.namespaces.get("default", "reborn"))!;
    await sweepNamespaces({ ...t.deps, logger: silentLogger });
    expect((await call("POST", NS, { name: "reborn" })).status).toBe(201);
    await secret("reborn", "kept");
    expect(await sweepNamespace({ ...t.deps, logger: silentLogger }, stale)).toBe(false);
    expect((await call("GET", `${NS}/reborn/secrets/kept`)).status).toBe(200);
    expect(await json<View>(call("GET", `${NS}/reborn`))).toMatchObject({ status: "active", secretCount: 1 });
  });

  it("closes the race of a secret's delete against naming it as registry credentials, both ways", async () => {
    await call("POST", NS, { name: "contested" });
    const auth = (fromSecret: string) => ({
      config: { registryAuthentication: { serverAddress: "ghcr.io", username: "bot", fromSecret } },
    });
    // A delete that read the namespace before the credentials named the secret does not go through.
    await secret("contested", "first");
    const read = (await t.deps.repos.namespaces.get("default", "contested"))!;
    expect((await call("PATCH", `${NS}/contested`, auth("first"))).status).toBe(200);
    expect(await removeSecret(t.deps, "default", "contested", "first", { revision: read.revision })).toBe(
      "changed",
    );
    expect((await call("DELETE", `${NS}/contested/secrets/first`)).status).toBe(409); // SecretInUse, decided again
    // Credentials naming a secret deleted after it was checked do not go through either.
    await secret("contested", "second");
    const secrets = t.deps.repos.secrets;
    const get = secrets.get;
    secrets.get = async (...args) => {
      const found = await get(...args);
      if (found?.name === "second") await removeSecret(t.deps, "default", "contested", "second", {});
      return found;
    };
    try {
      const res = await call("PATCH", `${NS}/contested`, auth("second"));
      expect(await errorOf(res)).toMatchObject({
        status: 400,
        message: expect.stringContaining("secret second not found"),
      });
    } finally {
      secrets.get = get;
    }
    const ns = await json<{ config: unknown }>(call("GET", `${NS}/contested`));
    expect(ns.config).toEqual(auth("first").config);
  });

  it("names registry credentials only by an Environment secret of the namespace, which cannot be deleted under it", async () => {
    await call("POST", NS, { name: "images" });
    await secret("images", "ghcr");
    await secret("images", "cert", "File");
    await secret("default", "elsewhere");
    const auth = (fromSecret: string, extra = {}) => ({
      config: { registryAuthentication: { serverAddress: "ghcr.io", username: "bot", fromSecret, ...extra } },
    });
    const cases: [unknown, RegExp][] = [
      [auth("missing"), /secret missing not found in namespace images/],
      [auth("elsewhere"), /secret elsewhere not found in namespace images/],
      [auth("cert"), /File secret/],
      [auth("ghcr", { password: "hunter2" }), /put the registry password in a secret/],
    ];
    for (const [body, message] of cases)
      expect((await unchanged(() => call("PATCH", `${NS}/images`, body))).message).toMatch(message);
    const set = await json<{ config: unknown }>(call("PATCH", `${NS}/images`, auth("ghcr")));
    expect(set.config).toEqual({
      registryAuthentication: { serverAddress: "ghcr.io", username: "bot", fromSecret: "ghcr" },
    });
    expect(await unchanged(() => call("DELETE", `${NS}/images/secrets/ghcr`))).toMatchObject({
      status: 409,
      code: "SecretInUse",
      details: { usedBy: [{ kind: "namespace", namespace: "images", name: "images" }] },
    });
    const refs = await json<{ items: unknown[] }>(call("GET", `${NS}/images/secrets/ghcr/references`));
    expect(refs.items).toEqual([{ kind: "namespace", namespace: "images", name: "images" }]);
    expect((await call("GET", `${NS}/images/secrets/ghcr/references`, undefined, member)).status).toBe(403);
    expect((await call("GET", `${NS}/images/secrets/nope/references`)).status).toBe(404);
    // Removing the credentials frees the secret.
    const cleared = await json<{ config: unknown }>(
      call("PATCH", `${NS}/images`, { config: { registryAuthentication: null } }),
    );
    expect(cleared.config).toEqual({});
    expect((await call("DELETE", `${NS}/images/secrets/ghcr`)).status).toBe(204);
  });

  it("lists pending jobs that name a secret among its references", async () => {
    await secret("default", "for-jobs");
    // No device can take it: it stays Pending.
    const job = await json<{ id: string }>(
      call("POST", "/api/v1/jobs", {
        name: "waits",
        command: "true",
        secrets: [{ name: "for-jobs", env: "TOKEN" }],
      }),
    );
    const refs = await json<{ items: unknown[] }>(call("GET", "/api/v1/secrets/for-jobs/references"));
    expect(refs.items).toEqual([{ kind: "job", id: job.id, name: "waits", status: "Pending" }]);
  });
});

describe("the secret quota (maxSecrets)", () => {
  it("is 1,000 unless set; a create over it is 429 with nothing stored; a delete makes room; creates at the limit race fairly", async () => {
    const t = await testApp();
    const quota = async () =>
      (await (await t.call("GET", "/api/v1/quotas", { token: t.admin })).json()) as {
        limits: { maxSecrets: number };
        use: { secrets: number };
      };
    expect(await quota()).toMatchObject({ limits: { maxSecrets: 1000 }, use: { secrets: 0 } });
    const create = (name: string) =>
      t.call("POST", "/api/v1/secrets", { token: t.admin, body: { name, type: "Environment", data: "v" } });
    expect((await t.call("PUT", "/api/v1/quotas", { token: t.admin, body: { maxSecrets: 3 } })).status).toBe(
      200,
    );
    const raced = await Promise.all(["a", "b", "c", "d", "e"].map(create));
    expect(raced.map((r) => r.status).sort()).toEqual([201, 201, 201, 429, 429]);
    expect((await quota()).use.secrets).toBe(3);
    const before = await snapshot(t.db);
    const refused = await errorOf(await create("f"));
    expect(await snapshot(t.db)).toBe(before);
    expect(refused).toMatchObject({
      status: 429,
      code: "QuotaExceeded",
      message: expect.stringContaining("maxSecrets is 3 and the workspace holds 3 secrets"),
    });
    const kept = (await t.deps.repos.secrets.list("default", "default", { limit: 10 })).items;
    expect((await t.call("DELETE", `/api/v1/secrets/${kept[0]!.name}`, { token: t.admin })).status).toBe(204);
    expect((await create("f")).status).toBe(201);
    expect(
      (await t.call("PUT", "/api/v1/quotas", { token: t.admin, body: { maxSecrets: null } })).status,
    ).toBe(200);
    expect(await quota()).toMatchObject({ limits: { maxSecrets: 1000 }, use: { secrets: 3 } });
  });

  it("allows 20 namespaces besides default unless set; deleting one gives its place back", async () => {
    const t = await testApp();
    const create = (name: string) => t.call("POST", NS, { token: t.admin, body: { name } });
    await t.call("PUT", "/api/v1/quotas", { token: t.admin, body: { maxNamespaces: 2 } });
    const raced = await Promise.all(["a", "b", "c", "d"].map(create));
    expect(raced.map((r) => r.status).sort()).toEqual([201, 201, 429, 429]);
    const before = await snapshot(t.db);
    expect(await errorOf(await create("e"))).toMatchObject({
      status: 429,
      code: "QuotaExceeded",
      message: expect.stringContaining(
        "maxNamespaces is 2 and the workspace holds 2 namespaces besides default",
      ),
    });
    expect(await snapshot(t.db)).toBe(before);
    const made = raced.findIndex((r) => r.status === 201);
    expect((await t.call("DELETE", `${NS}/${"abcd"[made]}`, { token: t.admin })).status).toBe(202);
    expect((await create("e")).status).toBe(201);
    await t.call("PUT", "/api/v1/quotas", { token: t.admin, body: { maxNamespaces: null } });
    const q = (await (await t.call("GET", "/api/v1/quotas", { token: t.admin })).json()) as unknown;
    expect(q).toMatchObject({ limits: { maxNamespaces: 20 }, use: { namespaces: 2 } });
  });
});
