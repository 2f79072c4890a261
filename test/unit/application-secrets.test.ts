import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { AgentReservation } from "../../shared/contracts/reservations.ts";
import type { ApplicationData } from "../../shared/domain/reservation-data.ts";
import { publicKeyToBase64 } from "../../shared/domain/signing.ts";
import { registerAgent } from "../helpers/agents.ts";
import { testApp } from "../helpers/app.ts";

const APPS = "/api/v1/namespaces/default/applications";

/** A secret's new value redeploys the applications that use it (configVersion + 1, applications.md §2). */
describe("applications and their secrets", () => {
  it("redeploys on a new value of a secret it uses, not on another's, nor on a description change; keeps it from deletion", async () => {
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
});
