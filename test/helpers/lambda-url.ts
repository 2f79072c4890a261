import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { LambdaEvent } from "hono/aws-lambda";

/** A Lambda handler as `hono/aws-lambda`'s `handle` makes it. */
type UrlHandler = (event: LambdaEvent) => Promise<unknown>;

interface UrlResult {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
}

/** The event a function URL sends its Lambda for one request (payload format 2.0). */
function urlEvent(method: string, path: string, headers: Record<string, string>, body?: string) {
  const [rawPath, rawQueryString = ""] = path.split("?");
  const now = new Date();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    headers: { host: "lambda-url.test", ...headers },
    requestContext: {
      accountId: "anonymous",
      apiId: "lambda-url",
      domainName: headers.host ?? "lambda-url.test",
      domainPrefix: "lambda-url",
      http: { method, path: rawPath, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body ? { body } : {}),
    isBase64Encoded: false,
  } as unknown as LambdaEvent;
}

const bodyOf = (out: UrlResult) =>
  out.isBase64Encoded ? Buffer.from(out.body ?? "", "base64") : Buffer.from(out.body ?? "");

/**
 * Invokes a Lambda handler with the event a function URL sends it, as AWS would, and returns the status and
 * parsed JSON body. The handler runs in this process, on whatever its composition root is linked to.
 */
export async function invokeUrl<T = unknown>(
  handler: UrlHandler,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
  };
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const out = (await handler(urlEvent(method, path, headers, body))) as UrlResult;
  const text = bodyOf(out).toString();
  return { status: out.statusCode, body: (text ? JSON.parse(text) : undefined) as T };
}

/**
 * A function URL in front of a Lambda handler, over HTTP on loopback: each request becomes the event AWS
 * sends, and the handler's whole (buffered) answer is written back, as a function URL in buffered mode does.
 */
export async function serveLambdaUrl(handler: UrlHandler): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    const body = chunks.length ? Buffer.concat(chunks).toString() : undefined;
    const out = (await handler(urlEvent(req.method ?? "GET", req.url ?? "/", headers, body))) as UrlResult;
    res.writeHead(out.statusCode, out.headers ?? {});
    res.end(bodyOf(out));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
