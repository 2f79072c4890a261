import { randomUUID } from "node:crypto";
import type { LambdaEvent } from "hono/aws-lambda";

/** A Lambda handler as `hono/aws-lambda`'s `handle` makes it. */
type UrlHandler = (event: LambdaEvent) => Promise<unknown>;

interface UrlResult {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
}

/**
 * Invokes a Lambda handler with the event a function URL sends it (payload format 2.0), as AWS would, and
 * returns the status and parsed JSON body. The handler runs in this process, on whatever its composition
 * root is linked to (tests point it at DynamoDB Local).
 */
export async function invokeUrl<T = unknown>(
  handler: UrlHandler,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const [rawPath, rawQueryString = ""] = path.split("?");
  const now = new Date();
  const headers: Record<string, string> = {
    host: "lambda-url.test",
    "content-type": "application/json",
    ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
  };
  const event = {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: "anonymous",
      apiId: "lambda-url",
      domainName: "lambda-url.test",
      domainPrefix: "lambda-url",
      http: { method, path: rawPath, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    isBase64Encoded: false,
  };
  const out = (await handler(event as unknown as LambdaEvent)) as UrlResult;
  const text = out.isBase64Encoded ? Buffer.from(out.body ?? "", "base64").toString() : (out.body ?? "");
  return { status: out.statusCode, body: (text ? JSON.parse(text) : undefined) as T };
}
