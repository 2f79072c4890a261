import { describe, expect, it } from "vitest";
import { buildAppDeps } from "../../hosts/app-deps.ts";
import { silentLogger } from "../../shared/adapters/logger.ts";
import { createApp } from "../../shared/app/create-app.ts";
import { AppConfig } from "../../shared/config.ts";
import { newServerSecret } from "../../shared/domain/secrets.ts";
import { signLoginProof } from "../../shared/domain/signing.ts";
import { registerAgent } from "../helpers/agents.ts";
import { testApp } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { countRequests } from "../helpers/db.ts";
import { gpudLoginBody, login } from "../helpers/fleet.ts";

describe("device authentication cache", () => {
  it("answers a known session without reading the device, within its TTL", async () => {
    const t = await testApp();
    const agent = await registerAgent(t);
    await agent.poll(0);
    const counter = countRequests(t.db);
    await agent.poll(0);
    expect(counter.of("get")).toBe(0); // neither the device nor its presence (written within the window)
  });

  it("refuses a deleted device at once in the process that deleted it", async () => {
    const t = await testApp();
    const agent = await registerAgent(t);
    await agent.poll(0);
    expect((await t.call("DELETE", `/api/v1/devices/${agent.deviceId}`, { token: t.admin })).status).toBe(
      204,
    );
    const res = await t.call("GET", "/api/v1/agent/reservations?from=0", { token: agent.session });
    expect(res.status).toBe(401);
  });

  it("refuses a rotated token at once in the process that rotated it", async () => {
    const t = await testApp();
    const agent = await registerAgent(t);
    await agent.poll(0);
    const token = (
      await t.call("POST", "/api/v1/registration-tokens", { token: t.admin, body: { name: "r" } })
    )
      .json()
      .then((b) => (b as { token: string }).token);
    const relogin = await login(
      t,
      gpudLoginBody(await token, {
        machineID: agent.deviceId,
        publicKey: agent.publicKey,
        refreshSessionToken: true,
        proof: signLoginProof(agent.deviceId, new Date().toISOString(), agent.privateKey),
      }),
    );
    expect(relogin.status).toBe(200);
    expect(relogin.body.token).not.toBe(agent.session);
    const res = await t.call("GET", "/api/v1/agent/reservations?from=0", { token: agent.session });
    expect(res.status).toBe(401);
  });

  it("bounds how long another process that did not hear of a revocation keeps a session: its TTL", async () => {
    const clock = manualClock();
    const t = await testApp({ clock, config: { deviceAuthCacheSeconds: 30 } });
    // A second process on the same database, with nothing to tell it of the other's deletes (no broadcast).
    const otherDeps = buildAppDeps({
      store: t.db,
      serverSecret: newServerSecret(),
      logger: silentLogger,
      config: AppConfig.parse({ deviceAuthCacheSeconds: 30 }),
      clock,
    });
    // Same keys as the first process: it shares the database's root secret.
    const other = createApp({ ...otherDeps, keys: t.deps.keys });
    const agent = await registerAgent(t);
    const pollOther = () =>
      other.request("/api/v1/agent/reservations?from=0", {
        headers: { authorization: `Bearer ${agent.session}` },
      });
    expect((await pollOther()).status).toBe(200);
    await t.call("DELETE", `/api/v1/devices/${agent.deviceId}`, { token: t.admin });
    clock.advance(29_000);
    expect((await pollOther()).status).toBe(200);
    clock.advance(2_000);
    expect((await pollOther()).status).toBe(401);
  });
});
