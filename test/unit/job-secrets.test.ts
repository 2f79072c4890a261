import { generateKeyPairSync } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { openSealed, seal, sealedAad } from "../../shared/domain/sealed.ts";
import { publicKeyToBase64 } from "../../shared/domain/signing.ts";
import { sealedSize } from "../../shared/usecases/secrets/job-secrets.ts";
import { registerAgent, type SimAgent } from "../helpers/agents.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { snapshot } from "../helpers/db.ts";
import { job, submit } from "../helpers/jobs.ts";

describe("jobs that use secrets (secrets.md §3, §4, §7)", () => {
  let t: TestApp;
  let agent: SimAgent;
  let nodeKey: ReturnType<typeof generateKeyPairSync>["privateKey"];
  let cursor = 0;
  const secret = (body: Record<string, unknown>) =>
    t.call("POST", "/api/v1/namespaces/default/secrets", { token: t.admin, body });
  beforeAll(async () => {
    t = await testApp();
    const keys = generateKeyPairSync("x25519");
    nodeKey = keys.privateKey;
    agent = await registerAgent(t, {
      login: { encryptionKey: publicKeyToBase64(keys.publicKey), resources: { cpu: "8", memory: "32Gi" } },
    });
    cursor = (await agent.poll(0)).next;
    await secret({ name: "hf", type: "Environment", data: "hf_Sealed_Value_1" });
    await secret({ name: "db", type: "File", data: '{"pw":"p"}' });
    await secret({ name: "shared", type: "Environment", data: "for-members", allowMemberJobs: true });
  });
  const take = async () => {
    const res = await agent.poll(cursor, 0);
    cursor = res.next;
    return res.reservations.filter((r) => !r.toDelete && !r.control);
  };

  it("seals each value to the device for that reservation; the plaintext is nowhere in the store or the feed", async () => {
    const { status, body } = await submit(t, {
      exe: "sh",
      args: ["-c", "true"],
      secrets: [
        { name: "hf", env: "HF_TOKEN" },
        { name: "db", path: "db.json" },
      ],
    });
    expect(status, JSON.stringify(body)).toBe(201);
    expect(body.secrets).toEqual([
      { name: "hf", env: "HF_TOKEN" },
      { name: "db", path: "db.json" },
    ]);
    const [r] = await take();
    const data = JSON.parse(r!.data) as {
      env: Record<string, string>;
      secretEnv: Record<string, string>;
      secretFiles: { path: string; sealed: string }[];
      secretRefs: { name: string; version: number; target: string }[];
    };
    expect(data.env).not.toHaveProperty("HF_TOKEN");
    expect(
      openSealed(
        nodeKey,
        data.secretEnv.HF_TOKEN!,
        sealedAad(agent.deviceId, r!.id, "env:HF_TOKEN"),
      ).toString(),
    ).toBe("hf_Sealed_Value_1");
    expect(
      openSealed(
        nodeKey,
        data.secretFiles[0]!.sealed,
        sealedAad(agent.deviceId, r!.id, "file:db.json"),
      ).toString(),
    ).toBe('{"pw":"p"}');
    expect(data.secretRefs).toEqual([
      { name: "hf", namespace: "default", version: 1, target: "env:HF_TOKEN" },
      { name: "db", namespace: "default", version: 1, target: "file:db.json" },
    ]);
    expect(await snapshot(t.db)).not.toContain("hf_Sealed_Value_1");
    // When it was last delivered: set by the placement (at most once a minute).
    const hf = (await (
      await t.call("GET", "/api/v1/namespaces/default/secrets/hf", { token: t.admin })
    ).json()) as {
      lastDeliveredAt?: string;
      version: number;
    };
    expect(Date.now() - Date.parse(hf.lastDeliveredAt!)).toBeLessThan(60_000);
    expect(hf.version).toBe(1);
    expect(JSON.stringify(await job(t, body.id))).not.toContain("hf_Sealed_Value_1");
  });

  it("takes a secret from the namespace the reference names (default otherwise)", async () => {
    await t.call("POST", "/api/v1/namespaces", { token: t.admin, body: { name: "team-a" } });
    await t.call("POST", "/api/v1/namespaces/team-a/secrets", {
      token: t.admin,
      body: { name: "hf", type: "Environment", data: "team_a_value_1" },
    });
    const { status, body } = await submit(t, {
      exe: "true",
      secrets: [
        { name: "hf", namespace: "team-a", env: "A" },
        { name: "hf", env: "B" },
      ],
    });
    expect(status, JSON.stringify(body)).toBe(201);
    const [r] = await take();
    const data = JSON.parse(r!.data) as {
      secretEnv: Record<string, string>;
      secretRefs: { namespace: string }[];
    };
    const open = (env: string) =>
      openSealed(nodeKey, data.secretEnv[env]!, sealedAad(agent.deviceId, r!.id, `env:${env}`)).toString();
    expect([open("A"), open("B")]).toEqual(["team_a_value_1", "hf_Sealed_Value_1"]);
    expect(data.secretRefs.map((ref) => ref.namespace)).toEqual(["team-a", "default"]);
    const other = await submit(t, {
      exe: "true",
      secrets: [{ name: "db", namespace: "team-a", path: "db.json" }],
    });
    expect(other.status).toBe(400);
    expect(JSON.stringify(other.body)).toContain("secret db not found in namespace team-a");
  });

  it("refuses bad references with the spec's errors, and stores nothing", async () => {
    const member = await t.key("member");
    const cases: [Record<string, unknown>[], number, string, string?][] = [
      [[{ name: "nope", env: "X" }], 400, "secret nope not found in namespace default"],
      [[{ name: "db", env: "X" }], 400, "secret db is a File secret; use path, not env"],
      [[{ name: "hf", path: "hf.txt" }], 400, "secret hf is an Environment secret; use env, not path"],
      [[{ name: "hf" }], 400, "give env (for an Environment secret) or path (for a File secret)"],
      [[{ name: "hf", env: "1BAD" }], 400, "must match"],
      [[{ name: "db", path: "/etc/db.json" }], 400, "must be relative for a process job"],
      [[{ name: "db", path: "../db.json" }], 400, "normalised"],
      [
        [
          { name: "hf", env: "HF" },
          { name: "hf", env: "HF" },
        ],
        400,
        "HF is given twice",
      ],
      [[{ name: "hf", env: "HF" }], 403, "secret hf may only be used by admin jobs", member],
    ];
    for (const [secrets, status, message, token] of cases) {
      const before = await snapshot(t.db);
      const res = await t.call("POST", "/api/v1/jobs", {
        token: token ?? t.admin,
        body: { exe: "true", secrets },
      });
      const err = await errorOf(res);
      expect(err.status, message).toBe(status);
      expect(err.message).toContain(message);
      expect(await snapshot(t.db)).toBe(before);
    }
    const clash = await errorOf(
      await t.call("POST", "/api/v1/jobs", {
        token: t.admin,
        body: {
          exe: "true",
          environment: [{ name: "HF", value: "x" }],
          secrets: [{ name: "hf", env: "HF" }],
        },
      }),
    );
    expect(clash.message).toContain("HF is set both in environment and from a secret");
    // Containers: files go to absolute paths of their own in the container, never over the reserved ones.
    const inContainer: [Record<string, unknown>, string][] = [
      [{ name: "db", path: "db.json" }, "must be an absolute path in the container"],
      [{ name: "db", path: "/" }, "must be an absolute path in the container, not /"],
      [{ name: "db", path: "/proc/db" }, "may not be /proc/db (reserved)"],
      [{ name: "db", path: "/etc/passwd" }, "may not be /etc/passwd (reserved)"],
      [{ name: "db", path: "/data" }, "/data overlaps the mount at /data"],
      [{ name: "db", path: "/data/db.json" }, "/data/db.json overlaps the mount at /data"],
      [{ name: "db", path: "/srv/db/" }, "must name a file, not end in /"],
      [{ name: "big", env: "BIG" }, "secret big is 40000 bytes; a container's variable holds at most 32768"],
    ];
    await secret({ name: "big", type: "Environment", data: "b".repeat(40_000) });
    for (const [ref, message] of inContainer) {
      const before = await snapshot(t.db);
      const err = await errorOf(
        await t.call("POST", "/api/v1/jobs", {
          token: t.admin,
          body: { exe: "true", container: { image: "busybox" }, mounts: ["/srv:/data"], secrets: [ref] },
        }),
      );
      expect(err, message).toMatchObject({ status: 400, message: expect.stringContaining(message) });
      expect(await snapshot(t.db)).toBe(before);
    }
    const nested = await errorOf(
      await t.call("POST", "/api/v1/jobs", {
        token: t.admin,
        body: {
          exe: "true",
          secrets: [
            { name: "db", path: "conf" },
            { name: "db", path: "conf/db.json" },
          ],
        },
      }),
    );
    expect(nested.message).toContain("conf/db.json and conf overlap");
    const cloud = await errorOf(
      await t.call("POST", "/api/v1/jobs", {
        token: t.admin,
        body: { exe: "true", target: "cloud", secrets: [{ name: "hf", env: "HF" }] },
      }),
    );
    expect(cloud).toMatchObject({ status: 400, code: "RequestNotSupported" });
    // A member key may use a secret that allows it.
    expect((await submit(t, { exe: "true", secrets: [{ name: "shared", env: "S" }] }, member)).status).toBe(
      201,
    );
    await take();
  });

  it("fails a job whose secret was deleted before it was placed (SecretMissing), and gives its quota back", async () => {
    // (No device yet: the job waits.)
    const fresh = await testApp();
    await fresh.call("POST", "/api/v1/namespaces/default/secrets", {
      token: fresh.admin,
      body: { name: "gone", type: "Environment", data: "v" },
    });
    const { body } = await submit(fresh, { exe: "true", secrets: [{ name: "gone", env: "G" }] });
    expect(body.statusCode).toBe("NeverFits"); // no device yet: it waits
    await fresh.call("DELETE", "/api/v1/namespaces/default/secrets/gone", { token: fresh.admin });
    const keys = generateKeyPairSync("x25519");
    await registerAgent(fresh, { login: { encryptionKey: publicKeyToBase64(keys.publicKey) } });
    await fresh.deps.capacityFreed("default");
    const after = await job(fresh, body.id);
    expect(after).toMatchObject({ status: "Failed", statusCode: "SecretMissing" });
    expect(after.statusMessage).toBe("secret gone was deleted before the job was placed");
    const quota = (await (await fresh.call("GET", "/api/v1/quotas", { token: fresh.admin })).json()) as {
      use: { runningJobs: number };
    };
    expect(quota.use.runningJobs).toBe(0);
  });

  it("waits, saying why, when no device has an encryption key (GPUd)", async () => {
    const fresh = await testApp();
    await fresh.call("POST", "/api/v1/namespaces/default/secrets", {
      token: fresh.admin,
      body: { name: "k", type: "Environment", data: "v" },
    });
    await registerAgent(fresh); // a GPUd login: no encryptionKey
    const { body } = await submit(fresh, { exe: "true", secrets: [{ name: "k", env: "K" }] });
    expect(body).toMatchObject({ status: "Pending", statusCode: "NeverFits" });
    expect(body.statusMessage).toBe(
      "no device can receive secrets (devices registered by GPUd have no encryption key)",
    );
  });

  it("keeps a job's sealed secrets within 128 KiB: refused at submit, and failed at placement if they grew since", async () => {
    const fresh = await testApp();
    const put = (name: string, bytes: number, method = "POST") =>
      fresh.call(method, `/api/v1/secrets${method === "POST" ? "" : `/${name}`}`, {
        token: fresh.admin,
        body: { ...(method === "POST" ? { name, type: "File" } : {}), data: "x".repeat(bytes) },
      });
    for (const name of ["a", "b", "c"]) expect((await put(name, 50 * 1024)).status).toBe(201);
    const refs = (names: string[]) => names.map((name) => ({ name, path: `${name}.bin` }));
    const before = await snapshot(fresh.db);
    const refused = await errorOf(
      await fresh.call("POST", "/api/v1/jobs", {
        token: fresh.admin,
        body: { exe: "true", secrets: refs(["a", "b", "c"]) },
      }),
    );
    expect(refused).toMatchObject({
      status: 400,
      message: expect.stringMatching(
        /^the job's secrets weigh 201 KiB sealed; a job carries at most 128 KiB/,
      ),
    });
    expect(await snapshot(fresh.db)).toBe(before);
    for (const name of ["d", "e"]) await put(name, 10);
    const { body } = await submit(fresh, { exe: "true", secrets: refs(["d", "e"]) });
    expect(body.statusCode).toBe("NeverFits"); // no device yet
    for (const name of ["d", "e"]) expect((await put(name, 50 * 1024, "PATCH")).status).toBe(200);
    const keys = generateKeyPairSync("x25519");
    await registerAgent(fresh, { login: { encryptionKey: publicKeyToBase64(keys.publicKey) } });
    await fresh.deps.capacityFreed("default");
    expect(await job(fresh, body.id)).toMatchObject({
      status: "Failed",
      statusMessage: expect.stringContaining("the job's secrets weigh 134 KiB sealed"),
    });
  });

  it("knows how large a sealed value is", () => {
    const keys = generateKeyPairSync("x25519");
    for (const n of [0, 1, 2, 3, 31, 64 * 1024])
      expect(seal(publicKeyToBase64(keys.publicKey), Buffer.alloc(n, 7), "aad").length).toBe(sealedSize(n));
  });
});
