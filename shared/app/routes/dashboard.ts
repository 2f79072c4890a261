import { OpenAPIHono } from "@hono/zod-openapi";
import { BerthError, ErrorCode } from "../../domain/errors.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { DOCS } from "./docs.ts";

export const DASHBOARD = "/ui";

/**
 * Nothing but this origin, no inline script, no framing: the dashboard holds an API key, so nothing it loads
 * may come from elsewhere, and no other site may frame it.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * The web dashboard (web/, built by Vite into dist/web): `/ui/assets/*` are its hashed files (cached for
 * good), every other path under `/ui/` is the page itself (the dashboard routes in the browser). `GET /` leads
 * to it, or to the API docs on a host without it.
 */
export function dashboardRoutes(deps: AppDeps) {
  const page = async () => {
    const index = await deps.dashboardAsset("index.html");
    if (!index)
      throw new BerthError(
        ErrorCode.NotFound,
        "this server has no dashboard: it is built with the package (npm run build); the API docs are at /api/v1/docs",
      );
    return index;
  };
  const secure = (c: { header: (k: string, v: string) => void }) => {
    c.header("content-security-policy", CSP);
    c.header("x-content-type-options", "nosniff");
    c.header("referrer-policy", "no-referrer");
  };
  return new OpenAPIHono<AppEnv>()
    .get("/", async (c) =>
      c.redirect((await deps.dashboardAsset("index.html")) ? `${DASHBOARD}/` : DOCS, 302),
    )
    .get(DASHBOARD, (c) => c.redirect(`${DASHBOARD}/`, 301))
    .get(`${DASHBOARD}/assets/*`, async (c) => {
      const path = c.req.path.slice(`${DASHBOARD}/`.length);
      const asset = await deps.dashboardAsset(path);
      if (!asset) throw new BerthError(ErrorCode.NotFound, `no dashboard file ${path}`);
      secure(c);
      c.header("content-type", asset.contentType);
      // Their names carry a hash of their content: a new build has new names.
      c.header("cache-control", "public, max-age=31536000, immutable");
      c.header("vary", "accept-encoding");
      if (asset.gzip && /\bgzip\b/.test(c.req.header("accept-encoding") ?? "")) {
        c.header("content-encoding", "gzip");
        return c.body(asset.gzip as Uint8Array<ArrayBuffer>);
      }
      return c.body(asset.bytes as Uint8Array<ArrayBuffer>);
    })
    .get(`${DASHBOARD}/*`, async (c) => {
      const index = await page();
      secure(c);
      c.header("content-type", index.contentType);
      c.header("cache-control", "no-cache");
      return c.body(index.bytes as Uint8Array<ArrayBuffer>);
    });
}
