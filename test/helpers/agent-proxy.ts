import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the agent sent through the proxy, and what it got. */
export interface ProxiedRequest {
  method: string;
  path: string;
  status: number;
  /** sha256 of the request body: the same request sent twice has the same one. */
  bodyHash: string;
  bodyBytes: number;
}

/**
 * An HTTP proxy between an agent and the control plane, for attacks and failures: it can answer a
 * request itself (`intercept`), rewrite poll answers (`rewritePoll`), and it logs every request.
 */
export interface AgentProxy {
  url: string;
  requests: ProxiedRequest[];
  /** Answers a request without the control plane (status, JSON body), or undefined to forward it. */
  intercept?: (req: {
    method: string;
    path: string;
    body: string;
  }) => { status: number; body: unknown } | undefined;
  /** Rewrites a poll answer (the parsed JSON) before the agent sees it. */
  rewritePoll?: (body: Record<string, unknown>) => Record<string, unknown>;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => parts.push(d));
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });

export async function agentProxy(target: string): Promise<AgentProxy> {
  const proxy: AgentProxy = { url: "", requests: [], close: async () => {} };
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const log = (status: number) =>
      proxy.requests.push({
        method,
        path,
        status,
        bodyHash: createHash("sha256").update(body).digest("hex"),
        bodyBytes: body.length,
      });
    try {
      const own = proxy.intercept?.({ method, path, body: body.toString("utf8") });
      if (own) {
        log(own.status);
        res.writeHead(own.status, { "content-type": "application/json" });
        res.end(JSON.stringify(own.body));
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === "string" && !["host", "connection", "content-length"].includes(k)) headers[k] = v;
      }
      const answer = await fetch(`${target}${path}`, {
        method,
        headers,
        body: method === "GET" || method === "HEAD" ? undefined : body,
      });
      let text = await answer.text();
      if (
        answer.ok &&
        proxy.rewritePoll &&
        method === "GET" &&
        path.startsWith("/api/v1/agent/reservations?")
      ) {
        text = JSON.stringify(proxy.rewritePoll(JSON.parse(text) as Record<string, unknown>));
      }
      log(answer.status);
      res.writeHead(answer.status, {
        "content-type": answer.headers.get("content-type") ?? "application/json",
      });
      res.end(text);
    } catch (err) {
      log(502);
      res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "BadGateway", message: String(err) } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return proxy;
}
