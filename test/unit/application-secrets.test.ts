import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { AgentReservation } from "../../shared/contracts/reservations.ts";
import type { ApplicationData } from "../../shared/domain/reservation-data.ts";
import { openSealed, registryTarget, sealedAad } from "../../shared/domain/sealed.ts";
import { publicKeyToBase64 } from "../../shared/domain/signing.ts";
import { registerAgent } from "../helpers/agents.ts";
import { testApp } from "../helpers/app.ts";

const APPS = "/api/v1/namespaces/default/applications";

/** An app, an agent with an encryption key, and what its feed hands over of applications since the last look. */
async function setup() {
  const t = await testApp();
  const keys = generateKeyPairSync("x25519");
  const agent = await registerAgent(t, { login: { encryptionKey: publicKeyToBase64(keys.publicKey) } });
  let cursor = (await agent.poll(0)).next;
  const applies = async () => {
    const res = await agent.poll(cursor);
    cursor = res.next;
    return res.reservations.filter((r: AgentReservation) => r.type === "application" && !r.toDelete);
  };
  const call = (method: string, path: string, body?: unknown) =>
    t.call(method, path, { token: t.admin, body });
  return { t, keys, agent, applies, call };
}

/** A secret's new value redeploys the applications that use it (configVersion + 1, applications.md §2). */
describe("applications and their secrets", () => {
  it("redeploys on a new value of a secret it uses, not on another's, nor on a description change; keeps it from deletion", async () => {
    const { applies, call } = await setup();
    const app = async () => (await (await call("GET", `${APPS}/web`)).json()) as { configVersion: number };
    for (const name of ["tok", "other"])
      await call("POST", "/api/v1/namespaces/default/secrets", {
        name,
        type: "Environment",
        data: `${name}-v1-value`,
      });
    expect(
      (
        await call("POST", APPS, {
          name: "web",
          type: "process",
          scheduling: { type: "AllDevices" },
          spec: {
            containers: [
              { name: "server", command: "exec sleep 100", env: [{ name: "T", fromSecret: "tok" }] },
            ],
          },
        })
      ).status,
    ).toBe(201);
    expect(await applies()).toHaveLength(1);
    await call("PATCH", "/api/v1/namespaces/default/secrets/other", { data: "other-v2-value" });
    await call("PATCH", "/api/v1/namespaces/default/secrets/tok", { description: "the token" });
    expect((await app()).configVersion).toBe(1);
    expect(await applies()).toEqual([]);
    await call("PATCH", "/api/v1/namespaces/default/secrets/tok", { data: "tok-v2-value" });
    expect((await app()).configVersion).toBe(2);
    const [r] = await applies();
    expect((JSON.parse(r!.data) as ApplicationData).application.configVersion).toBe(2);

    // In use: listed among its references, and not deleted (409 SecretInUse naming the application).
    const refs = (await (await call("GET", "/api/v1/namespaces/default/secrets/tok/references")).json()) as {
      items: { kind: string; name: string }[];
    };
    expect(refs.items).toContainEqual(expect.objectContaining({ kind: "application", name: "web" }));
    const refused = await call("DELETE", "/api/v1/namespaces/default/secrets/tok");
    expect(refused.status).toBe(409);
    const error = ((await refused.json()) as { error: { code: string; message: string } }).error;
    expect(error).toMatchObject({ code: "SecretInUse" });
    expect(error.message).toContain("application web");
    expect((await call("GET", "/api/v1/namespaces/default/secrets/tok")).status).toBe(200);
    // Another secret, used by nobody, goes.
    expect((await call("DELETE", "/api/v1/namespaces/default/secrets/other")).status).toBe(204);
  });

  it("carries registry credentials (the container's auth and the namespace's) sealed to the device, and redeploys when they change", async () => {
    const { keys, agent, applies, call } = await setup();
    const configVersion = async (name: string) =>
      ((await (await call("GET", `${APPS}/${name}`)).json()) as { configVersion: number }).configVersion;
    for (const [name, data] of [
      ["ghcr-token", "ghcr-pat-1"],
      ["ns-registry", "ns-pw-1"],
    ] as const)
      await call("POST", "/api/v1/namespaces/default/secrets", { name, type: "Environment", data });
    await call("POST", "/api/v1/namespaces/default/secrets", { name: "a-file", type: "File", data: "x" });
    const nsAuth = (username: string) => ({
      config: {
        registryAuthentication: { serverAddress: "registry.example", username, fromSecret: "ns-registry" },
      },
    });
    expect((await call("PATCH", "/api/v1/namespaces/default", nsAuth("robot"))).status).toBe(200);
    const container = (auth: Record<string, unknown>) => ({
      name: "web",
      scheduling: { type: "AllDevices" },
      spec: { containers: [{ name: "main", image: "ghcr.io/acme/web:1", auth }] },
    });

    // Refused, nothing stored: a literal password, a missing secret, a File secret, auth on a process.
    const ghcr = { serverAddress: "ghcr.io", username: "acme", fromSecret: "ghcr-token" };
    for (const [body, path] of [
      [container({ ...ghcr, password: "hunter2" }), "spec.containers.0.auth.password"],
      [container({ ...ghcr, fromSecret: "nope" }), "spec.containers.0.auth.fromSecret"],
      [container({ ...ghcr, fromSecret: "a-file" }), "spec.containers.0.auth.fromSecret"],
      [
        {
          name: "web",
          type: "process",
          scheduling: { type: "AllDevices" },
          spec: { containers: [{ name: "main", command: "sleep 1", auth: ghcr }] },
        },
        "spec.containers.0.auth",
      ],
    ] as const) {
      const res = await call("POST", APPS, body);
      expect(res.status).toBe(400);
      const error = ((await res.json()) as { error: { details: { path: string }[] } }).error;
      expect(error.details.map((d) => d.path)).toContain(path);
    }
    expect((await (await call("GET", APPS)).json()) as { items: unknown[] }).toMatchObject({ items: [] });

    expect((await call("POST", APPS, container(ghcr))).status).toBe(201);
    const [r] = await applies();
    const data = JSON.parse(r!.data) as ApplicationData;
    const auth = data.containers[0]!.auth!;
    expect(auth.map((a) => [a.serverAddress, a.username])).toEqual([
      ["ghcr.io", "acme"],
      ["registry.example", "robot"],
    ]);
    const open = (a: (typeof auth)[number]) =>
      openSealed(
        keys.privateKey,
        a.password,
        sealedAad(agent.deviceId, r!.id, registryTarget(a.serverAddress)),
      ).toString();
    expect(auth.map(open)).toEqual(["ghcr-pat-1", "ns-pw-1"]);
    expect(r!.data).not.toContain("ghcr-pat-1");
    expect(r!.data).not.toContain("ns-pw-1");

    // A new namespace password, new namespace credentials, a new value of the container's: redeployed each time.
    await call("PATCH", "/api/v1/namespaces/default/secrets/ns-registry", { data: "ns-pw-2" });
    expect(await configVersion("web")).toBe(2);
    expect((await call("PATCH", "/api/v1/namespaces/default", nsAuth("robot2"))).status).toBe(200);
    expect(await configVersion("web")).toBe(3);
    expect((await call("PATCH", "/api/v1/namespaces/default", nsAuth("robot2"))).status).toBe(200);
    expect(await configVersion("web")).toBe(3);
    await call("PATCH", "/api/v1/namespaces/default/secrets/ghcr-token", { data: "ghcr-pat-2" });
    expect(await configVersion("web")).toBe(4);
    const latest = (await applies()).at(-1)!;
    const now = JSON.parse(latest.data) as ApplicationData;
    expect(now.application.configVersion).toBe(4);
    expect(now.containers[0]!.auth!.map((a) => a.username)).toEqual(["acme", "robot2"]);

    // The container's secret is in use: not deleted.
    const refused = await call("DELETE", "/api/v1/namespaces/default/secrets/ghcr-token");
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
      "application web",
    );
  });
});
