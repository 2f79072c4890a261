import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { describe, expect, it } from "vitest";
import { errorHandler } from "../../shared/app/errors.ts";
import { BerthError, ERROR_STATUS, ErrorCode } from "../../shared/domain/errors.ts";
import type { Logger } from "../../shared/ports/logger.ts";

function appThrowing(err: unknown, logged: unknown[] = []) {
  const logger: Logger = {
    debug() {},
    info() {},
    warn() {},
    error: (msg, fields) => logged.push({ msg, ...fields }),
  };
  const app = new OpenAPIHono();
  app.get("/boom", () => {
    throw err;
  });
  app.onError(errorHandler(logger));
  return app;
}

describe("errorHandler", () => {
  it.each(Object.entries(ERROR_STATUS))(
    "answers code %s with HTTP %i in the envelope",
    async (code, status) => {
      const res = await appThrowing(new BerthError(code as ErrorCode, `about ${code}`, { hint: 1 })).request(
        "/boom",
      );
      expect(res.status).toBe(status);
      expect(await res.json()).toEqual({ error: { code, message: `about ${code}`, details: { hint: 1 } } });
    },
  );

  it("omits details when there are none", async () => {
    const res = await appThrowing(new BerthError(ErrorCode.Conflict, "taken")).request("/boom");
    expect(await res.json()).toEqual({ error: { code: "Conflict", message: "taken" } });
  });

  it("answers an unexpected error as an opaque 500 and logs it", async () => {
    const logged: unknown[] = [];
    const secret = new Error("connect ECONNREFUSED 10.0.0.7:8000 table=prod-berth");
    const res = await appThrowing(secret, logged).request("/boom");
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("Unknown");
    expect(JSON.stringify(body)).not.toContain("ECONNREFUSED");
    expect(JSON.stringify(body)).not.toContain("at ");
    expect(logged).toMatchObject([{ msg: "unhandled error", error: secret.message }]);
  });

  it.each([
    [400, "Malformed JSON in request body", 400, "InvalidRequest"],
    [415, "Unsupported Media Type", 400, "InvalidRequest"],
    [413, "too big", 413, "PayloadTooLarge"],
    [404, "nope", 404, "NotFound"],
  ])("maps the HTTP layer's %i to %i %s", async (status, message, expected, code) => {
    const res = await appThrowing(new HTTPException(status as 400, { message })).request("/boom");
    expect(res.status).toBe(expected);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
  });
});
