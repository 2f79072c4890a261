import { generateKeyPairSync } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { sqliteStore } from "../../shared/adapters/sqlite/sqlite-store.ts";
import { newId } from "../../shared/domain/ids.ts";
import { publicKeyToBase64, signLoginProof } from "../../shared/domain/signing.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { snapshot } from "../helpers/db.ts";
import { createToken, gpudLoginBody, login } from "../helpers/fleet.ts";

const gpudError = (status: string, message: string) => ({ code: status, status, message, error: message });

describe("POST /api/v1/login (GPUd-compatible)", () => {
  const clock = manualClock();
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await testApp({ clock });
    // A token for a GPUd fleet: its machines have no key of their own and relogin on the token's trust.
    token = (
      await createToken(t, {
        labels: { rack: "r7" },
        environmentVariables: { HF_HOME: "/data/hf" },
        keylessRelogin: true,
      })
    ).token;
  });

  /** Sends a login that must be rejected, and checks that nothing was written. */
  const rejected = async (body: unknown, headers: Record<string, string> = {}) => {
    const before = await snapshot(t.db);
    const res = await login(t, body, headers);
    expect(await snapshot(t.db)).toBe(before);
    for (const value of Object.values(res.body)) expect(typeof value).toBe("string");
    return res;
  };

  describe("first login", () => {
    let first: { status: number; body: Record<string, unknown> };
    beforeAll(async () => {
      first = await login(
        t,
        gpudLoginBody(token, { nodeLabels: { "user.node.lepton.ai/gpu": "h100", rack: "r9" } }),
        {
          authorization: `Bearer ${token}`,
        },
      );
    });

    it("answers 200 exactly, with string values: machineID, a session token and the control plane key", () => {
      expect(first.status).toBe(200);
      expect(first.body).toEqual({
        machineID: expect.stringMatching(/^[0-9a-z]{26}$/),
        token: expect.stringMatching(/^berth_st_/),
        controlPlaneKey: t.deps.keys.signing.publicKeyBase64,
      });
    });

    it("creates the device with the token's labels and environment under the node's own labels", async () => {
      const device = (await (
        await t.call("GET", `/api/v1/devices/${first.body.machineID}`, { token: t.admin })
      ).json()) as Record<string, unknown>;
      expect(device).toMatchObject({
        nodeGroup: "default",
        labels: { rack: "r9", gpu: "h100" },
        environmentVariables: { HF_HOME: "/data/hf" },
        resources: { cpu: 96, memory: 1024 * 2 ** 30, gpus: 8 },
        status: "online",
        info: {
          hostname: "gpu-node-1",
          publicIP: "203.0.113.7",
          privateIP: "10.0.0.7",
          region: "us-east-1",
          provider: "aws",
          gpuDriverVersion: "550.54.15",
          cudaVersion: "12.4",
          cpu: { logicalCores: 224 },
        },
      });
      expect((device.info as { gpus: unknown[] }).gpus).toHaveLength(8);
    });

    it("keeps only a hash of the session token", async () => {
      const stored = await snapshot(t.db);
      expect(stored).not.toContain(first.body.token as string);
    });

    it("lets the session token authenticate agent routes", async () => {
      const res = await t.call("POST", "/api/v1/agent/heartbeat", {
        token: first.body.token as string,
        body: {},
      });
      expect(res.status).toBe(200);
    });
  });

  describe("relogin proves possession", () => {
    const keyed = async (tok: string) => {
      const { privateKey, publicKey } = generateKeyPairSync("ed25519");
      const res = await login(t, gpudLoginBody(tok, { publicKey: publicKeyToBase64(publicKey) }));
      return { machineID: res.body.machineID as string, session: res.body.token as string, privateKey };
    };
    const heartbeat = (session: string) =>
      t.call("POST", "/api/v1/agent/heartbeat", { token: session, body: {} });

    it("answers a keyed machine's relogin signed with its key, with its current session", async () => {
      const m = await keyed(token);
      const proof = signLoginProof(m.machineID, clock.now().toISOString(), m.privateKey);
      const res = await login(t, gpudLoginBody(token, { machineID: m.machineID, proof }));
      expect(res.body).toMatchObject({ machineID: m.machineID, token: m.session });
    });

    it("refuses another machine's id with the registration token alone: no session, nothing written", async () => {
      const victim = await keyed(token);
      const attack = await rejected(gpudLoginBody(token, { machineID: victim.machineID }));
      expect(attack).toEqual({
        status: 401,
        body: gpudError(
          "Unauthorized",
          "this machine registered with its own key: a relogin must carry a proof signed with it; a registration token alone cannot log it in",
        ),
      });
      // Nor with a proof signed by another key, nor rotating its session.
      const mallory = generateKeyPairSync("ed25519").privateKey;
      const forged = signLoginProof(victim.machineID, clock.now().toISOString(), mallory);
      expect(
        (
          await rejected(
            gpudLoginBody(token, { machineID: victim.machineID, proof: forged, refreshSessionToken: true }),
          )
        ).status,
      ).toBe(401);
      expect((await heartbeat(victim.session)).status).toBe(200);
    });

    it("refuses a proof older (or newer) than five minutes, naming the clock", async () => {
      const m = await keyed(token);
      const old = signLoginProof(
        m.machineID,
        new Date(clock.now().getTime() - 6 * 60_000).toISOString(),
        m.privateKey,
      );
      expect(await rejected(gpudLoginBody(token, { machineID: m.machineID, proof: old }))).toEqual({
        status: 401,
        body: gpudError(
          "Unauthorized",
          "the relogin proof is too old or from the future: check this machine's clock",
        ),
      });
    });

    it("refuses a keyless machine's relogin with a token for new machines only (the default)", async () => {
      const fresh = (await createToken(t)).token;
      const { body } = await login(t, gpudLoginBody(fresh));
      expect(await rejected(gpudLoginBody(fresh, { machineID: body.machineID }))).toEqual({
        status: 403,
        body: gpudError(
          "Forbidden",
          "this registration token registers new machines only: a machine without a key of its own cannot log in again with it (create the token with keylessRelogin for GPUd fleets)",
        ),
      });
    });
  });

  describe("relogin", () => {
    let machineID: string;
    let session: string;
    beforeAll(async () => {
      const res = await login(t, gpudLoginBody(token, { nodeLabels: { team: "vision" } }));
      machineID = res.body.machineID as string;
      session = res.body.token as string;
    });

    const devices = async () =>
      (
        (await (await t.call("GET", "/api/v1/devices?pageSize=500", { token: t.admin })).json()) as {
          items: { id: string }[];
        }
      ).items;

    it("returns the same machine and its current session token, and creates no second device", async () => {
      const count = (await devices()).length;
      const res = await login(t, gpudLoginBody(token, { machineID, nodeGroup: undefined }));
      expect(res).toEqual({
        status: 200,
        body: { machineID, token: session, controlPlaneKey: expect.any(String) },
      });
      expect((await devices()).length).toBe(count);
    });

    it("updates machine info and addresses", async () => {
      const body = gpudLoginBody(token, { machineID, network: { publicIP: "198.51.100.1" } });
      (body.machineInfo as Record<string, unknown>).kernelVersion = "6.8.0";
      await login(t, body);
      const device = (await (
        await t.call("GET", `/api/v1/devices/${machineID}`, { token: t.admin })
      ).json()) as {
        info: Record<string, unknown>;
      };
      expect(device.info).toMatchObject({ publicIP: "198.51.100.1", kernelVersion: "6.8.0" });
    });

    it("leaves labels alone when nodeLabels is absent or null, replaces them when present, clears them with {}", async () => {
      const labels = async () =>
        (
          (await (await t.call("GET", `/api/v1/devices/${machineID}`, { token: t.admin })).json()) as {
            labels: Record<string, string>;
          }
        ).labels;
      expect(await labels()).toEqual({ rack: "r7", team: "vision" });
      await login(t, gpudLoginBody(token, { machineID }));
      await login(t, gpudLoginBody(token, { machineID, nodeLabels: null }));
      expect(await labels()).toEqual({ rack: "r7", team: "vision" });
      await login(t, gpudLoginBody(token, { machineID, nodeLabels: { team: "nlp" } }));
      expect(await labels()).toEqual({ team: "nlp" });
      await login(t, gpudLoginBody(token, { machineID, nodeLabels: {} }));
      expect(await labels()).toEqual({});
    });

    it("rotates the session token only when asked, and the old one stops working", async () => {
      const res = await login(t, gpudLoginBody(token, { machineID, refreshSessionToken: true }));
      expect(res.body.token).not.toBe(session);
      expect((await t.call("POST", "/api/v1/agent/heartbeat", { token: session, body: {} })).status).toBe(
        401,
      );
      expect(
        (await t.call("POST", "/api/v1/agent/heartbeat", { token: res.body.token as string, body: {} }))
          .status,
      ).toBe(200);
      session = res.body.token as string;
    });

    it("keeps the machine's identity key: another key is refused", async () => {
      const keyed = await login(t, gpudLoginBody(token, { publicKey: "a2V5LW9uZQ==" }));
      const res = await rejected(
        gpudLoginBody(token, { machineID: keyed.body.machineID, publicKey: "a2V5LXR3bw==" }),
      );
      expect(res.status).toBe(400);
      expect(res.body.message).toContain("publicKey does not match");
    });
  });

  describe("every row of the status/message table", () => {
    it("400 when the body is not JSON", async () => {
      const res = await rejected("{machineID:");
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: "InvalidRequest", status: "InvalidRequest" });
      expect(res.body.message).toMatch(/^cannot parse json, /);
      expect(res.body.error).toBe(res.body.message);
    });

    it("400 when machineInfo is missing", async () => {
      const { machineInfo: _, ...body } = gpudLoginBody(token);
      expect(await rejected(body)).toEqual({
        status: 400,
        body: gpudError("InvalidRequest", "machine info cannot be nil"),
      });
    });

    it("400 when machineInfo is null", async () => {
      expect(await rejected(gpudLoginBody(token, { machineInfo: null }))).toEqual({
        status: 400,
        body: gpudError("InvalidRequest", "machine info cannot be nil"),
      });
    });

    it.each([undefined, ""])("400 when the token is %j", async (value) => {
      expect(await rejected(gpudLoginBody(token, { token: value }))).toEqual({
        status: 400,
        body: gpudError("InvalidRequest", "token is required"),
      });
    });

    it("400 with neither a machine id nor a node group", async () => {
      expect(await rejected(gpudLoginBody(token, { nodeGroup: "" }))).toEqual({
        status: 400,
        body: gpudError("InvalidRequest", "must specify a machine id or a node group id"),
      });
    });

    it("400 when the machine is in another node group than the one given", async () => {
      await t.call("POST", "/api/v1/node-groups", { token: t.admin, body: { name: "training" } });
      const { body } = await login(t, gpudLoginBody(token));
      expect(
        await rejected(gpudLoginBody(token, { machineID: body.machineID, nodeGroup: "training" })),
      ).toEqual({
        status: 400,
        body: gpudError(
          "InvalidRequest",
          "node group does not match: this machine is in node group default; pass --node-group default (or none), or move it with berth devices move",
        ),
      });
    });

    it.each([
      [{ gpu: "a", "user.node.lepton.ai/gpu": "b" }, "both normalise to"],
      [Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, "v"])), "at most 8 labels"],
      [{ ["n".repeat(64)]: "v" }, "1-63 characters"],
      [{ "example.com/gpu": "v" }, "may only use the prefix"],
    ])("400 for invalid node labels %#", async (nodeLabels, detail) => {
      const res = await rejected(gpudLoginBody(token, { nodeLabels }));
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/^invalid node labels: /);
      expect(res.body.message).toContain(detail);
    });

    it("400 for a GPU count that is not a non-negative integer", async () => {
      const res = await rejected(gpudLoginBody(token, { resources: { "nvidia.com/gpu": "two" } }));
      expect(res.status).toBe(400);
      expect(res.body.message).toContain('nvidia.com/gpu must be a non-negative integer, got "two"');
    });

    it.each([
      ["unknown", () => `berth_rt_${newId()}_${"A".repeat(43)}`],
      ["malformed", () => "not-a-token"],
      ["with an altered secret", () => `${token.slice(0, -3)}xyz`],
    ])("401 for an %s token", async (_what, make) => {
      expect(await rejected(gpudLoginBody(make()))).toEqual({
        status: 401,
        body: gpudError("Unauthorized", "invalid token"),
      });
    });

    it("401 when the header and body carry different tokens", async () => {
      const other = (await createToken(t)).token;
      expect(await rejected(gpudLoginBody(token), { authorization: `Bearer ${other}` })).toMatchObject({
        status: 401,
      });
    });

    it("401 for an expired token", async () => {
      const expiring = await createToken(t, {
        expiresAt: new Date(clock.now().getTime() + 1000).toISOString(),
      });
      clock.advance(2000);
      expect(await rejected(gpudLoginBody(expiring.token))).toEqual({
        status: 401,
        body: gpudError("Unauthorized", "invalid token"),
      });
    });

    it("401 for a revoked (deleted) token", async () => {
      const revoked = await createToken(t);
      await t.call("DELETE", `/api/v1/registration-tokens/${revoked.id}`, { token: t.admin });
      expect((await rejected(gpudLoginBody(revoked.token))).status).toBe(401);
    });

    it("401 for a used-up token, while relogins with it keep working", async () => {
      const once = await createToken(t, { maxRegistrations: 1, keylessRelogin: true });
      const { body } = await login(t, gpudLoginBody(once.token));
      // The one holding a token that matched learns why it cannot register another machine, and what to do.
      expect(await rejected(gpudLoginBody(once.token))).toEqual({
        status: 401,
        body: gpudError(
          "Unauthorized",
          `registration limit reached (1 of 1): raise it with berth tokens update ${once.id} --max-registrations N, or create another token`,
        ),
      });
      expect((await login(t, gpudLoginBody(once.token, { machineID: body.machineID }))).status).toBe(200);
    });

    it("404 when the machine id belongs to another workspace, exactly as for an unknown one (no existence oracle)", async () => {
      const otherAdmin = await t.workspace("login-other");
      const otherToken = (await createToken(t, {}, otherAdmin)).token;
      const { body } = await login(t, gpudLoginBody(otherToken));
      expect(await rejected(gpudLoginBody(token, { machineID: body.machineID }))).toEqual({
        status: 404,
        body: gpudError("NotFound", "machine not found"),
      });
    });

    it("404 when the node group (by id) belongs to another workspace, as for an unknown one", async () => {
      const otherAdmin = await t.workspace("login-groups");
      const group = (await (
        await t.call("POST", "/api/v1/node-groups", { token: otherAdmin, body: { name: "theirs" } })
      ).json()) as { id: string };
      expect(await rejected(gpudLoginBody(token, { nodeGroup: group.id }))).toEqual({
        status: 404,
        body: gpudError("NotFound", `node group ${group.id} not found`),
      });
    });

    it("404 for an unknown machine id", async () => {
      expect(await rejected(gpudLoginBody(token, { machineID: newId() }))).toEqual({
        status: 404,
        body: gpudError("NotFound", "machine not found"),
      });
    });

    it("404 for an unknown node group", async () => {
      expect(await rejected(gpudLoginBody(token, { nodeGroup: "nowhere" }))).toEqual({
        status: 404,
        body: gpudError("NotFound", "node group nowhere not found"),
      });
    });

    it("500 with no internals when storage fails, and no counters left behind", async () => {
      const store = sqliteStore(":memory:");
      const broken = await testApp({ clock, store });
      const tok = await createToken(broken);
      // The registration's transaction fails inside the engine.
      store.transact = async () => {
        throw new Error("disk I/O error: table berth-prod");
      };
      const res = await login(broken, gpudLoginBody(tok.token));
      expect(res).toEqual({ status: 500, body: gpudError("Unknown", "failed to login, please try again") });
      const view = (await (
        await broken.call("GET", `/api/v1/registration-tokens/${tok.id}`, { token: broken.admin })
      ).json()) as { deviceCount: number };
      expect(view.deviceCount).toBe(0);
      const group = (await (
        await broken.call("GET", "/api/v1/node-groups/default", { token: broken.admin })
      ).json()) as {
        deviceCount: number;
      };
      expect(group.deviceCount).toBe(0);
    });
  });

  it("joins a group given by id", async () => {
    const group = (await (
      await t.call("POST", "/api/v1/node-groups", { token: t.admin, body: { name: "by-id" } })
    ).json()) as { id: string };
    const res = await login(t, gpudLoginBody(token, { nodeGroup: group.id }));
    const device = (await (
      await t.call("GET", `/api/v1/devices/${res.body.machineID}`, { token: t.admin })
    ).json()) as {
      nodeGroup: string;
    };
    expect(device.nodeGroup).toBe("by-id");
  });

  it("names the device after its hostname with namingStrategy fromHostname", async () => {
    const named = await createToken(t, { namingStrategy: "fromHostname" });
    const res = await login(t, gpudLoginBody(named.token));
    const device = (await (
      await t.call("GET", `/api/v1/devices/${res.body.machineID}`, { token: t.admin })
    ).json()) as {
      name: string;
    };
    expect(device.name).toBe("gpu-node-1");
  });

  it("pins devices of a token with a node group to that group", async () => {
    await t.call("POST", "/api/v1/node-groups", { token: t.admin, body: { name: "pinned" } });
    const pinned = await createToken(t, { nodeGroup: "pinned" });
    expect((await rejected(gpudLoginBody(pinned.token, { nodeGroup: "default" }))).body.message).toBe(
      "node group does not match: this registration token is for node group pinned; pass --node-group pinned (or none)",
    );
    expect((await login(t, gpudLoginBody(pinned.token, { nodeGroup: "pinned" }))).status).toBe(200);
  });

  it("warns, without failing, about cpu or memory it cannot read", async () => {
    const res = await login(t, gpudLoginBody(token, { resources: { cpu: "lots", memory: "64Gi" } }));
    expect(res.status).toBe(200);
    expect(res.body.validationResults).toEqual([
      expect.objectContaining({ name: "resources.cpu", valid: false }),
    ]);
  });

  it("ignores unknown keys", async () => {
    expect((await login(t, gpudLoginBody(token, { futureField: { nested: true } }))).status).toBe(200);
  });

  it("registers exactly maxRegistrations devices when 20 logins race for a token capped at 5", async () => {
    const capped = await createToken(t, { maxRegistrations: 5 });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => login(t, gpudLoginBody(capped.token))),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 401)).toHaveLength(15);
    const view = (await (
      await t.call("GET", `/api/v1/registration-tokens/${capped.id}`, { token: t.admin })
    ).json()) as {
      deviceCount: number;
    };
    expect(view.deviceCount).toBe(5);
    const devices = (await (
      await t.call("GET", "/api/v1/devices?pageSize=500", { token: t.admin })
    ).json()) as {
      items: { registrationTokenId: string }[];
    };
    expect(devices.items.filter((d) => d.registrationTokenId === capped.id)).toHaveLength(5);
  });
});
