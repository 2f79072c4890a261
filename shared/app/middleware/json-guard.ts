import { createMiddleware } from "hono/factory";
import { MAX_JSON_DEPTH, nestsDeeperThan, prototypeKeyPath } from "../../domain/bounds.ts";
import { invalidRequest } from "../../domain/errors.ts";
import type { AppEnv } from "../env.ts";

/**
 * Refuses, before any validator or handler reads a body, JSON that nests deeper than MAX_JSON_DEPTH (a
 * body nested thousands deep would overflow the stack of whatever walks it) and JSON with a `__proto__`
 * key anywhere (copies of it would change an object's prototype, or drop the key). The text it reads is
 * cached by Hono, so validators and the login route read it again for free. Runs after the body limit.
 */
export const jsonGuard = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    if (!c.req.raw.body) return next();
    const text = await c.req.text();
    if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
      const message = `nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`;
      throw invalidRequest(`invalid request body: ${message}`, [{ path: "(root)", message }]);
    }
    // Parsed only when a key could spell __proto__ (directly or with escapes): most bodies cannot.
    if (text.includes("proto") || text.includes("\\u")) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return next(); // not JSON: the validator (or the login route) says so in its own words
      }
      const at = prototypeKeyPath(parsed);
      if (at) {
        const path = at.map(String).join(".");
        const message = "the key __proto__ is not allowed";
        throw invalidRequest(`invalid request body: ${path}: ${message}`, [{ path, message }]);
      }
    }
    await next();
  });
