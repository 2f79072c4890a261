import { generateKeyPairSync, type KeyObject } from "node:crypto";
import type { AgentReservation, PollResponse } from "../../shared/contracts/reservations.ts";
import { publicKeyToBase64, signResult } from "../../shared/domain/signing.ts";
import type { TestApp } from "./app.ts";
import { createToken, gpudLoginBody, login } from "./fleet.ts";
import { until } from "./wait.ts";

/** A simulated Berth agent: a registered device with its own ed25519 key. */
export interface SimAgent {
  deviceId: string;
  session: string;
  privateKey: KeyObject;
  publicKey: string;
  poll(from: number, wait?: number): Promise<PollResponse>;
  result(
    r: { id: string; type: string },
    state: "ok" | "error",
    data?: unknown,
    error?: string,
  ): Promise<Response>;
  deleted(id: string): Promise<Response>;
  /** Reports that the workload started. */
  started(id: string, pid?: number): Promise<Response>;
}

export async function registerAgent(
  t: TestApp,
  opts: { admin?: string; token?: string; login?: Record<string, unknown> } = {},
): Promise<SimAgent> {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const token = opts.token ?? (await createToken(t, {}, opts.admin ?? t.admin)).token;
  const pub = publicKeyToBase64(publicKey);
  const res = await login(t, gpudLoginBody(token, { publicKey: pub, ...opts.login }));
  if (res.status !== 200) throw new Error(`login failed: ${JSON.stringify(res.body)}`);
  const session = res.body.token as string;
  return {
    deviceId: res.body.machineID as string,
    session,
    privateKey,
    publicKey: pub,
    async poll(from, wait = 0) {
      const r = await t.call("GET", `/api/v1/agent/reservations?from=${from}&wait=${wait}`, {
        token: session,
      });
      if (r.status !== 200) throw new Error(`poll ${r.status}: ${await r.text()}`);
      return (await r.json()) as PollResponse;
    },
    result(r, state, data = {}, error = "") {
      const body = { id: r.id, state, error, data: JSON.stringify(data) };
      return t.call("PUT", `/api/v1/agent/reservations/${r.id}/result`, {
        token: session,
        body: {
          ...body,
          type: r.type,
          created: new Date().toISOString(),
          signature: signResult(body, privateKey),
        },
      });
    },
    deleted(id) {
      return t.call("PUT", `/api/v1/agent/reservations/${id}/deleted`, { token: session });
    },
    started(id, pid = 4242) {
      return t.call("POST", `/api/v1/agent/reservations/${id}/status`, {
        token: session,
        body: { state: "running", pid },
      });
    },
  };
}

/** Creates a reservation through the user API. */
export async function reserve(
  t: TestApp,
  nodeId: string,
  body: { type?: string; data?: unknown; duration?: number } = {},
  token = t.admin,
) {
  const res = await t.call("POST", "/api/v1/reservations", {
    token,
    body: { nodeId, type: "debug", data: { hello: "world" }, duration: 3600, ...body },
  });
  if (res.status !== 201) throw new Error(`reserve failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as AgentReservation & { state: string; version: number };
}

/** The id of the first device of the app's default workspace, once one has registered (a started agent). */
export async function firstDevice(t: TestApp, ms = 30_000): Promise<string> {
  let deviceId = "";
  await until(async () => {
    const list = (await (await t.call("GET", "/api/v1/devices", { token: t.admin })).json()) as {
      items: { id: string }[];
    };
    deviceId = list.items[0]?.id ?? "";
    return deviceId !== "";
  }, ms);
  return deviceId;
}
