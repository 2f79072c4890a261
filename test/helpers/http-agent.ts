import { generateKeyPairSync, type KeyObject } from "node:crypto";
import type { AgentReservation, PollResponse } from "../../shared/contracts/reservations.ts";
import { publicKeyToBase64, signResult, verifyReservation } from "../../shared/domain/signing.ts";
import { gpudLoginBody } from "./fleet.ts";

/**
 * A simulated agent over real HTTP: logs in with its own key, then long-polls its feed from its cursor,
 * verifying every reservation and counting each delivery. Network errors (a restarting server) are
 * retried after a short pause; the cursor survives them, as a real agent's does.
 */
export class HttpAgent {
  cursor = 0;
  readonly deliveries = new Map<string, number>();
  readonly deliveredAt = new Map<string, number>();
  badSignatures = 0;
  /** Called with each reservation to apply, after it is counted. */
  onApply?: (r: AgentReservation) => void;
  privateKey?: KeyObject;
  polls = 0;
  errors = 0;
  #stop = new AbortController();
  #loop?: Promise<void>;

  endpoint: string;
  readonly deviceId: string;
  readonly session: string;
  readonly controlPlaneKey: string;

  constructor(endpoint: string, deviceId: string, session: string, controlPlaneKey: string) {
    this.endpoint = endpoint;
    this.deviceId = deviceId;
    this.session = session;
    this.controlPlaneKey = controlPlaneKey;
  }

  static async register(
    endpoint: string,
    registrationToken: string,
    login: Record<string, unknown> = {},
  ): Promise<HttpAgent> {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const res = await fetch(`${endpoint}/api/v1/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(
        gpudLoginBody(registrationToken, { publicKey: publicKeyToBase64(publicKey), ...login }),
      ),
    });
    const body = (await res.json()) as { machineID: string; token: string; controlPlaneKey: string };
    if (res.status !== 200) throw new Error(`login failed: ${JSON.stringify(body)}`);
    const agent = new HttpAgent(endpoint, body.machineID, body.token, body.controlPlaneKey);
    agent.privateKey = privateKey;
    return agent;
  }

  /** One poll; returns the applied (not toDelete) reservations it received. */
  async pollOnce(wait: number): Promise<AgentReservation[]> {
    const res = await fetch(`${this.endpoint}/api/v1/agent/reservations?from=${this.cursor}&wait=${wait}`, {
      headers: { authorization: `Bearer ${this.session}` },
      signal: this.#stop.signal,
    });
    if (res.status !== 200) throw new Error(`poll answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as PollResponse;
    this.polls++;
    const applied: AgentReservation[] = [];
    for (const r of body.reservations) {
      if (r.toDelete) continue;
      if (!verifyReservation(r, this.controlPlaneKey)) {
        this.badSignatures++;
        continue;
      }
      this.deliveries.set(r.id, (this.deliveries.get(r.id) ?? 0) + 1);
      if (!this.deliveredAt.has(r.id)) this.deliveredAt.set(r.id, performance.now());
      applied.push(r);
      this.onApply?.(r);
    }
    this.cursor = body.next;
    return applied;
  }

  /** Reports a workload start, as Berth's agent does. */
  async started(id: string, pid = 1): Promise<void> {
    await this.#post("POST", `/api/v1/agent/reservations/${id}/status`, { state: "running", pid });
  }

  /** Reports a signed result, as Berth's agent does. */
  async result(id: string, state: "ok" | "error", data: unknown): Promise<void> {
    const body = { id, state, error: "", data: JSON.stringify(data) };
    await this.#post("PUT", `/api/v1/agent/reservations/${id}/result`, {
      ...body,
      type: "process",
      created: new Date().toISOString(),
      signature: signResult(body, this.privateKey!),
    });
  }

  async #post(method: string, path: string, body: unknown) {
    const res = await fetch(`${this.endpoint}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.session}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  }

  /** Polls until stopped. */
  start(wait = 20): void {
    this.#loop = (async () => {
      while (!this.#stop.signal.aborted) {
        try {
          await this.pollOnce(wait);
        } catch {
          if (this.#stop.signal.aborted) break;
          this.errors++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }
}
