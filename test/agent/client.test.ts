import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { AgentClient, RejectedError, RevokedError, TransientError } from "../../agent/client.ts";

describe("the agent's HTTP client", () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
  });
  const answering = async (status: number, headers: Record<string, string> = {}, body = "") => {
    const seen: { method?: string; url?: string; auth?: string; body: string }[] = [];
    server = createServer((req, res) => {
      let text = "";
      req.on("data", (c) => {
        text += c;
      });
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body: text });
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(body);
      });
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    const client = new AgentClient(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
      "berth_st_x",
    );
    return { client, seen };
  };

  it("sends JSON with the session token and reads JSON back", async () => {
    const { client, seen } = await answering(200, {}, JSON.stringify({ reservations: [], next: 7 }));
    expect(await client.poll(3, 0)).toEqual({ reservations: [], next: 7 });
    await client.output("r1", [{ stream: "stdout", seq: 1, data: "hé" }]);
    expect(seen[0]).toMatchObject({
      method: "GET",
      url: "/api/v1/agent/reservations?from=3&wait=0",
      auth: "Bearer berth_st_x",
    });
    expect(JSON.parse(seen[1]!.body)).toEqual({ chunks: [{ stream: "stdout", seq: 1, data: "hé" }] });
  });

  it("keeps a batch it was redirected with (to try again), saying where to point the agent; never follows", async () => {
    const { client, seen } = await answering(308, { location: "https://berth.example.com/api/v1/x" });
    const err = await client.output("r1", [{ stream: "stdout", seq: 1, data: "x" }]).catch((e: Error) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toContain("redirected to https://berth.example.com/api/v1/x");
    expect(seen).toHaveLength(1);
  });

  it("tells a refusal (4xx, with the API's code) from a revoked session (401) and a passing failure (5xx, 429)", async () => {
    const refusal = await answering(
      400,
      {},
      JSON.stringify({ error: { code: "InvalidRequest", message: "bad seq" } }),
    );
    const e400 = await refusal.client.heartbeat({}).catch((e: Error) => e);
    expect(e400).toBeInstanceOf(RejectedError);
    expect(e400).toMatchObject({
      status: 400,
      code: "InvalidRequest",
      message: "POST /api/v1/agent/heartbeat: bad seq",
    });
    server!.close();
    expect(await (await answering(401)).client.heartbeat({}).catch((e: Error) => e)).toBeInstanceOf(
      RevokedError,
    );
    server!.close();
    const busy = await (await answering(429, { "retry-after": "3" })).client
      .heartbeat({})
      .catch((e: Error) => e);
    expect(busy).toBeInstanceOf(TransientError);
    expect((busy as TransientError).retryAfterMs).toBe(3000);
  });

  it("says the control plane cannot be reached when nothing listens", async () => {
    const client = new AgentClient("http://127.0.0.1:9");
    const err = await client.heartbeat({}).catch((e: Error) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/);
  });
});
