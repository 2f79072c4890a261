import { beforeAll, describe, expect, it } from "vitest";
import {
  verifyControlV2,
  verifyRemovalV2,
  verifyReservation,
  verifyReservationV2,
  verifySyncV2,
} from "../../shared/domain/signing.ts";
import { sendControl } from "../../shared/usecases/feed/reservations.ts";
import { registerAgent, reserve, type SimAgent } from "../helpers/agents.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { snapshot } from "../helpers/db.ts";
import { createToken, gpudLoginBody, login } from "../helpers/fleet.ts";

/** Agent protocol negotiation at login, and how each protocol's feed is signed (issue 11, signing v2). */
describe("agent protocols", () => {
  let t: TestApp;
  let key: string;
  beforeAll(async () => {
    t = await testApp();
    key = t.deps.keys.signing.publicKeyBase64;
  });
  const protocolOf = async (id: string) =>
    (
      (await (await t.call("GET", `/api/v1/devices/${id}`, { token: t.admin })).json()) as {
        protocol: number;
      }
    ).protocol;

  it("agrees on protocol 2 with an agent that asks for it; GPUd's answer stays as it was", async () => {
    const { token } = await createToken(t);
    const v2 = await login(t, gpudLoginBody(token, { protocol: 2 }));
    expect(v2.body.protocol).toBe(2);
    expect(await protocolOf(v2.body.machineID as string)).toBe(2);
    const gpud = await login(t, gpudLoginBody(token));
    expect(gpud.body).not.toHaveProperty("protocol");
    expect(await protocolOf(gpud.body.machineID as string)).toBe(1);
    // An agent newer than this control plane gets the newest it speaks.
    expect((await login(t, gpudLoginBody(token, { protocol: 9 }))).body.protocol).toBe(2);
  });

  describe("a protocol 2 device", () => {
    let agent: SimAgent;
    beforeAll(async () => {
      agent = await registerAgent(t, { login: { protocol: 2 } });
    });

    it("is sent applies signed v2 at creation (id and device covered), nothing of v1's, no stored signature field", async () => {
      const boot = await agent.poll(0);
      const r = await reserve(t, agent.deviceId);
      const { reservations } = await agent.poll(boot.next);
      const sent = reservations.find((x) => x.id === r.id)!;
      expect(verifyReservationV2(sent, key)).toBe(true);
      expect(verifyReservation(sent, key)).toBe(false);
      expect(sent).not.toHaveProperty("signatureV2");
      expect(
        await (await t.call("GET", `/api/v1/reservations/${r.id}`, { token: t.admin })).json(),
      ).not.toHaveProperty("signatureV2");
    });

    it("is sent removals with their own signature, and a boot sync with a signed list", async () => {
      const r = await reserve(t, agent.deviceId);
      await t.call("DELETE", `/api/v1/reservations/${r.id}`, { token: t.admin });
      const boot = await agent.poll(0);
      const removal = boot.reservations.find((x) => x.id === r.id)!;
      expect(removal.toDelete).toBe(true);
      expect(verifyRemovalV2({ id: r.id, nodeId: agent.deviceId, ...removal.removal! }, key)).toBe(true);
      expect(boot.sync).toBeDefined();
      expect(boot.sync!.ids.sort()).toEqual(boot.reservations.map((x) => x.id).sort());
      expect(verifySyncV2({ nodeId: agent.deviceId, ...boot.sync! }, key)).toBe(true);
    });

    it("is sent controls signed with their feed sequence", async () => {
      const v2 = await registerAgent(t, { login: { protocol: 2 } });
      const boot = await v2.poll(0);
      const res = await reserve(t, v2.deviceId, {
        type: "process",
        data: { argv: ["sleep", "60"], env: {} },
      });
      await sendControl(t.deps, (await t.deps.repos.reservations.get(v2.deviceId, res.id))!, "suspend");
      const control = (await v2.poll(boot.next)).reservations.find((x) => x.control)!;
      expect(control.control!.seq).toBe(control.seq);
      expect(
        verifyControlV2(
          { id: res.id, nodeId: v2.deviceId, ...control.control!, seq: control.control!.seq! },
          key,
        ),
      ).toBe(true);
      expect(control.control).not.toHaveProperty("signatureV2");
    });
  });

  it("sends a protocol 1 device (GPUd, agents before 0.2) v1 signatures, with no v2 fields", async () => {
    const v1 = await registerAgent(t);
    const boot = await v1.poll(0);
    expect(boot).not.toHaveProperty("sync");
    const r = await reserve(t, v1.deviceId);
    const sent = (await v1.poll(boot.next)).reservations.find((x) => x.id === r.id)!;
    expect(verifyReservation(sent, key)).toBe(true);
    expect(sent).not.toHaveProperty("signatureV2");
  });

  it("with BERTH_MIN_AGENT_PROTOCOL=2 refuses protocol 1 at login (nothing written) and at poll", async () => {
    const strict = await testApp({ config: { minAgentProtocol: 2 } });
    const { token } = await createToken(strict);
    const before = await snapshot(strict.db);
    const refused = await login(strict, gpudLoginBody(token));
    expect(refused.status).toBe(400);
    expect(String(refused.body.message)).toContain("needs agent protocol 2");
    expect(await snapshot(strict.db)).toBe(before);
    expect((await login(strict, gpudLoginBody(token, { protocol: 2 }))).status).toBe(200);
    // A device that logged in at 1 before the switch is refused at its next poll, with what to do.
    const lax = await testApp({ store: strict.db, config: { minAgentProtocol: 1 } });
    const old = await registerAgent(lax, { admin: strict.admin });
    const res = await strict.call("GET", "/api/v1/agent/reservations?from=0", { token: old.session });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("upgrade the agent");
  });
});
