import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { BerthError, ErrorCode } from "../domain/errors.ts";
import type { AppDeps } from "./deps.ts";
import type { AppEnv } from "./env.ts";
import { envelope, errorHandler, validationError } from "./errors.ts";
import { jsonEtag } from "./middleware/etag.ts";
import { jsonGuard } from "./middleware/json-guard.ts";
import { requestLog } from "./middleware/request-log.ts";
import { withAppErrors } from "./openapi.ts";
import { agentRoutes } from "./routes/agent.ts";
import { apiKeyRoutes } from "./routes/api-keys.ts";
import { applicationRoutes } from "./routes/applications.ts";
import { clusterRoutes } from "./routes/cluster.ts";
import { dashboardRoutes } from "./routes/dashboard.ts";
import { deviceRoutes } from "./routes/devices.ts";
import { docsRoutes } from "./routes/docs.ts";
import { gpuHealthRoutes } from "./routes/gpu-health.ts";
import { healthRoutes } from "./routes/health.ts";
import { installRoutes } from "./routes/install.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { labRoutes } from "./routes/labs.ts";
import { LOGIN_PATH, loginRoutes } from "./routes/login.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { namespaceRoutes } from "./routes/namespaces.ts";
import { nodeGroupRoutes } from "./routes/node-groups.ts";
import { profileRoutes } from "./routes/profiles.ts";
import { prometheusRoutes } from "./routes/prometheus.ts";
import { quotaRoutes } from "./routes/quotas.ts";
import { registrationTokenRoutes } from "./routes/registration-tokens.ts";
import { reservationRoutes } from "./routes/reservations.ts";
import { resourceUtilRoutes } from "./routes/resource-util.ts";
import { secretRoutes } from "./routes/secrets.ts";

export const API_PREFIX = "/api/v1";

/**
 * The API's routes under /api/v1, one sub-app per resource. Its type is what the dashboard's client is typed
 * from (hono/client): the same route definitions the OpenAPI document is made of.
 */
export function apiRoutes(deps: AppDeps) {
  return new OpenAPIHono<AppEnv>()
    .route("/", apiKeyRoutes(deps))
    .route("/", registrationTokenRoutes(deps))
    .route("/", nodeGroupRoutes(deps))
    .route("/", deviceRoutes(deps))
    .route("/", gpuHealthRoutes(deps))
    .route("/", resourceUtilRoutes(deps))
    .route("/", loginRoutes(deps))
    .route("/", reservationRoutes(deps))
    .route("/", agentRoutes(deps))
    .route("/", jobRoutes(deps))
    .route("/", profileRoutes(deps))
    .route("/", quotaRoutes(deps))
    .route("/", metricsRoutes(deps))
    .route("/", namespaceRoutes(deps))
    .route("/", labRoutes(deps))
    .route("/", clusterRoutes(deps))
    .route("/", applicationRoutes(deps))
    .route("/", secretRoutes(deps));
}
export type ApiRoutes = ReturnType<typeof apiRoutes>;

/**
 * The whole HTTP API, built from injected dependencies. No side effects: hosts (Lambda, the local
 * server, tests) call this and serve the result.
 */
export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.target, result.error);
    },
  });

  app.use("*", requestId({ headerName: "X-Request-Id" }), requestLog(deps.logger));
  // GPUd reads its login errors as a flat object of strings: choose the style before anything can fail.
  app.use(`${API_PREFIX}${LOGIN_PATH}`, async (c, next) => {
    c.set("errorStyle", "gpud");
    await next();
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: deps.config.bodyLimitBytes,
      onError: () => {
        throw new BerthError(
          ErrorCode.PayloadTooLarge,
          `request body is larger than ${deps.config.bodyLimitBytes} bytes`,
        );
      },
    }),
  );

  // After the body limit (the guard reads the body), before every validator and handler.
  app.use("*", jsonGuard());
  // Users' reads (not agents': a poll's answer is new each time, and there are many agents).
  const etag = jsonEtag();
  app.use(`${API_PREFIX}/*`, async (c, next) =>
    c.req.path.startsWith(`${API_PREFIX}/agent/`) ? next() : etag(c, next),
  );

  const api = apiRoutes(deps);

  app.route("/", healthRoutes(deps));
  app.route("/", installRoutes(deps));
  app.route("/", prometheusRoutes(deps));
  app.route(API_PREFIX, api);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An API key (berth_sk_...), or for /agent routes a device session token (berth_st_...)",
  });
  const document = {
    openapi: "3.1.0",
    info: {
      title: "Berth API",
      version: deps.config.version,
      description: "Control plane for GPU fleets. Errors: `{error: {code, message, details?}}`.",
    },
  };
  app.get(`${API_PREFIX}/openapi.json`, (c) => c.json(withAppErrors(app.getOpenAPI31Document(document))));
  app.route("/", docsRoutes(deps));
  app.route("/", dashboardRoutes(deps));

  app.notFound((c) =>
    c.json(envelope(new BerthError(ErrorCode.NotFound, `no route for ${c.req.method} ${c.req.path}`)), 404),
  );
  app.onError(errorHandler(deps.logger));
  return app;
}

export type App = ReturnType<typeof createApp>;
