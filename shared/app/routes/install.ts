import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { BerthError, ErrorCode } from "../../domain/errors.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { installScript } from "../install-script.ts";

export const INSTALL_PATH = "/install.sh";
export const AGENT_DOWNLOAD_PATH = "/downloads/berth-agent.mjs";

/** This control plane's URL as the machine that asked reached it (behind a proxy: its X-Forwarded-Proto). */
function publicOrigin(c: Context<AppEnv>): string {
  const url = new URL(c.req.url);
  const proto = c.req.header("x-forwarded-proto")?.split(",")[0]?.trim();
  if (proto === "https" || proto === "http") url.protocol = `${proto}:`;
  return url.origin;
}

const noBundle = () =>
  new BerthError(
    ErrorCode.NotFound,
    "this control plane has no agent bundle to serve (it was not built: run npm run build where it runs)",
  );

/**
 * `GET /install.sh` and `GET /downloads/berth-agent.mjs`, without credentials: what a GPU machine fetches to
 * join (the registration token it needs is the secret, and stays on the machine). Not in the OpenAPI document:
 * they are for `curl | sh`, not for API clients.
 */
export function installRoutes(deps: AppDeps) {
  return new OpenAPIHono<AppEnv>()
    .get(INSTALL_PATH, async (c) => {
      const bundle = await deps.agentBundle();
      if (!bundle) throw noBundle();
      c.header("content-type", "text/x-shellscript; charset=utf-8");
      c.header("cache-control", "no-store");
      return c.body(
        installScript({ endpoint: publicOrigin(c), sha256: bundle.sha256, version: deps.config.version }),
      );
    })
    .get(AGENT_DOWNLOAD_PATH, async (c) => {
      const bundle = await deps.agentBundle();
      if (!bundle) throw noBundle();
      c.header("content-type", "text/javascript; charset=utf-8");
      c.header("etag", `"${bundle.sha256}"`);
      c.header("x-content-sha256", bundle.sha256);
      return c.body(bundle.bytes as Uint8Array<ArrayBuffer>);
    });
}
