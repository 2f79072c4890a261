import { OpenAPIHono } from "@hono/zod-openapi";
import { BerthError, ErrorCode } from "../../domain/errors.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";

export const DOCS = "/api/v1/docs";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Berth API</title>
<link rel="icon" type="image/png" href="${DOCS}/assets/favicon-32x32.png">
<link rel="stylesheet" href="${DOCS}/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${DOCS}/assets/swagger-ui-bundle.js"></script>
<script src="${DOCS}/init.js"></script>
</body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui", deepLinking: true });\n`;

/** Nothing but this origin: the page works air-gapped, and nothing it loads can come from elsewhere. */
const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'";

/**
 * The API docs page (`GET /api/v1/docs`): Swagger UI from the package's own copy of swagger-ui-dist, with the
 * OpenAPI document of this server. No CDN: GPU clusters are often without internet. `GET /` leads here when
 * this host has no dashboard.
 */
export function docsRoutes(deps: AppDeps) {
  return new OpenAPIHono<AppEnv>()
    .get(DOCS, (c) => {
      c.header("content-security-policy", CSP);
      return c.html(PAGE);
    })
    .get(`${DOCS}/init.js`, (c) => {
      c.header("content-type", "text/javascript; charset=utf-8");
      return c.body(INIT);
    })
    .get(`${DOCS}/assets/:name`, async (c) => {
      const asset = await deps.docsAsset(c.req.param("name"));
      if (!asset) throw new BerthError(ErrorCode.NotFound, `no docs asset ${c.req.param("name")}`);
      c.header("content-type", asset.contentType);
      c.header("cache-control", `public, max-age=86400`);
      return c.body(asset.bytes as Uint8Array<ArrayBuffer>);
    });
}
