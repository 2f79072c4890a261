import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { BooleanQuery, IdParam } from "../../contracts/common.ts";
import { Role } from "../../domain/roles.ts";
import { UsageBatch, UsageSample } from "../../domain/usage.ts";
import { followResourceUtil, recordUsage, resourceUtil } from "../../usecases/jobs/resource-util.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { followStream } from "../follow-stream.ts";
import { requireUser } from "../middleware/auth.ts";
import { requireDevice } from "../middleware/device-auth.ts";
import { bearerSecurity, errorResponses, json, jsonBody } from "../openapi.ts";
import { followElsewhere, followWindow } from "./jobs.ts";

const Sample = UsageSample.extend({}).openapi("ResourceUtilSample", {
  description:
    "the Launcher's units: cpuPercent of the CPUs the job may use (0-100), cpuTime in seconds since it started, " +
    "residentMemory and virtualMemory in MiB; a field is absent when it was not measured",
});
const ResourceUtil = z.object({ sample: Sample.nullable(), complete: z.boolean() }).openapi("ResourceUtil");
const UtilQuery = z.object({
  follow: BooleanQuery("follow", false, "stream `util` events until the job ends (then `complete`)"),
});

/**
 * A running job's resource use, sampled on demand (specs/launcher-extras.md §1): users read it; the agent
 * posts the samples a lease asked for.
 */
export function resourceUtilRoutes(deps: AppDeps) {
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        tags: ["jobs"],
        security: bearerSecurity,
        middleware: requireUser(deps, Role.member),
        method: "get",
        path: "/jobs/{id}/resource-util",
        summary: "A running job's CPU, memory and GPU use (the Launcher's GET_JOB_RESOURCE_UTIL)",
        description:
          "Sampled only while someone asks: the first request takes a one-minute sampling lease and its device " +
          "samples every 5 s. follow=false answers a sample under 30 s old, or waits up to 10 s for one " +
          "(sample: null if none came). follow=true streams server-sent `util` events, then `complete` " +
          "with {status, exitCode} when the job ends. 409 JobNotRunning for a pending job (follow=false); " +
          "400 RequestNotSupported for cloud jobs.",
        request: { params: IdParam, query: UtilQuery },
        responses: {
          200: {
            description: "the latest sample, or (follow=true) a text/event-stream of them",
            content: {
              "application/json": { schema: ResourceUtil },
              "text/event-stream": { schema: z.string() },
            },
          },
          ...errorResponses(400, 401, 404, 409),
        },
      }),
      async (c) => {
        const { id } = c.req.valid("param");
        const abort = new AbortController();
        c.req.raw.signal.addEventListener("abort", () => abort.abort());
        if (!c.req.valid("query").follow)
          return c.json(await resourceUtil(deps, c.get("user"), id, abort.signal), 200);
        const elsewhere = followElsewhere(deps, c.req.url);
        if (elsewhere) return c.redirect(elsewhere, 307);
        const messages = await followResourceUtil(deps, c.get("user"), id, abort.signal);
        return followStream(
          c,
          deps.config.followKeepAliveMs,
          abort,
          (async function* () {
            for await (const m of messages)
              yield m.event === "util"
                ? {
                    event: "util",
                    id: String(m.seqId),
                    data: JSON.stringify({ ...m.sample, seqId: m.seqId }),
                  }
                : {
                    event: "complete",
                    id: "complete",
                    data: JSON.stringify({
                      status: m.status,
                      ...(m.exitCode === undefined ? {} : { exitCode: m.exitCode }),
                    }),
                  };
          })(),
          followWindow(deps),
        ) as never;
      },
    )
    .openapi(
      createRoute({
        tags: ["agents"],
        security: bearerSecurity,
        middleware: requireDevice(deps),
        method: "post",
        path: "/agent/reservations/{id}/usage",
        summary: "Post resource-use samples of one of the device's reservations (at most 60)",
        request: { params: IdParam, body: jsonBody(UsageBatch) },
        responses: {
          200: json("whether the newest was kept", z.object({ stored: z.boolean() })),
          ...errorResponses(400, 401, 404),
        },
      }),
      async (c) =>
        c.json(
          await recordUsage(deps, c.get("device"), c.req.valid("param").id, c.req.valid("json").samples),
          200,
        ),
    );
}
