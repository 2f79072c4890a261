import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { IdParam } from "../../contracts/common.ts";
import {
  ControlJobRequest,
  JobEventList,
  JobEventsQuery,
  JobOutput,
  JobOutputQuery,
  JobPage,
  JobView,
  ListJobsQuery,
  SubmitJobRequest,
} from "../../contracts/jobs.ts";
import { Role } from "../../domain/roles.ts";
import { controlJob } from "../../usecases/jobs/control-job.ts";
import { followJobEvents, followJobOutput, jobOutput } from "../../usecases/jobs/job-output.ts";
import { getJob, jobView, listJobs, submitJob } from "../../usecases/jobs/jobs.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { requireUser } from "../middleware/auth.ts";
import { bearerSecurity, errorResponses, json, jsonBody } from "../openapi.ts";
import { listPage } from "../pagination.ts";

const sse = (description: string) => ({
  description,
  content: { "text/event-stream": { schema: z.string() } },
});

/** `/api/v1/jobs`: Launcher-model GPU jobs (jobs.md). Any key; members see and control their own jobs. */
/** The last event of a follow stream cut short because the server is stopping: follow again to go on. */
const CLOSING = {
  event: "closing",
  data: JSON.stringify({ reason: "the control plane is shutting down; follow again to continue" }),
};

export function jobRoutes(deps: AppDeps) {
  const common = { tags: ["jobs"], security: bearerSecurity, middleware: requireUser(deps, Role.member) };
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...common,
        method: "post",
        path: "/jobs",
        summary: "Submit a job; it is placed on a device at once, or waits (Pending) for capacity",
        request: { body: jsonBody(SubmitJobRequest) },
        responses: { 201: json("the job", JobView), ...errorResponses(400, 401, 429) },
      }),
      async (c) => c.json(await submitJob(deps, c.get("user"), c.req.valid("json")), 201),
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/jobs",
        summary:
          "List jobs: time range (inclusive), statuses (any), tags (all), user (admin; * = all), fields",
        request: { query: ListJobsQuery },
        responses: { 200: json("a page of jobs", JobPage), ...errorResponses(400, 401, 403) },
      }),
      async (c) => {
        const q = c.req.valid("query");
        const filter = {
          startTime: q.startTime,
          endTime: q.endTime,
          statuses: q.statuses,
          tags: q.tags,
          user: q.user,
          fields: q.fields,
        };
        return c.json(
          await listPage(deps, c, q, filter, (page) => listJobs(deps, c.get("user"), filter, page)),
          200,
        );
      },
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/jobs/{id}",
        summary: "Get a job",
        request: { params: IdParam },
        responses: { 200: json("the job", JobView), ...errorResponses(401, 404) },
      }),
      async (c) => c.json(await getJob(deps, c.get("user"), c.req.valid("param").id), 200),
    )
    .openapi(
      createRoute({
        ...common,
        method: "post",
        path: "/jobs/{id}/control",
        summary: "suspend | resume | stop | kill | cancel (each only from its required status)",
        request: { params: IdParam, body: jsonBody(ControlJobRequest) },
        responses: { 200: json("the job", JobView), ...errorResponses(400, 401, 404, 409) },
      }),
      async (c) =>
        c.json(
          await controlJob(deps, c.get("user"), c.req.valid("param").id, c.req.valid("json").operation),
          200,
        ),
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/jobs/{id}/output",
        summary: "The job's output (follow=true: server-sent events until the job is final)",
        request: { params: IdParam, query: JobOutputQuery },
        responses: {
          200: {
            ...json("output so far", JobOutput),
            content: { ...json("", JobOutput).content, ...sse("").content },
          },
          ...errorResponses(400, 401, 404),
        },
      }),
      async (c) => {
        const { id } = c.req.valid("param");
        const q = c.req.valid("query");
        const user = c.get("user");
        if (!q.follow) return c.json(await jobOutput(deps, user, id, q.stream), 200);
        const abort = new AbortController();
        const lines = followJobOutput(deps, user, id, q.stream, abort.signal);
        const first = await lines.next(); // a missing job is a 404 here, before the stream opens
        return streamSSE(c, async (stream) => {
          stream.onAbort(() => abort.abort());
          for (let item = first; !item.done; item = await lines.next()) {
            if ("line" in item.value) {
              await stream.writeSSE({
                event: "output",
                id: String(item.value.line.seqId),
                data: JSON.stringify(item.value.line),
              });
            } else if ("closing" in item.value) {
              await stream.writeSSE(CLOSING);
            } else {
              const job = jobView(item.value.complete);
              await stream.writeSSE({
                event: "complete",
                data: JSON.stringify({
                  complete: true,
                  status: job.status,
                  exitCode: job.exitCode,
                  statusMessage: job.statusMessage,
                }),
              });
            }
          }
        }) as never;
      },
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/jobs/{id}/events",
        summary:
          "The job's lifecycle: accepted, placed, started, exited... (server-sent events until final; follow=false: JSON)",
        request: {
          params: IdParam,
          query: JobEventsQuery,
        },
        responses: {
          200: {
            ...sse("events as they happen"),
            content: { ...sse("").content, ...json("", JobEventList).content },
          },
          ...errorResponses(401, 404),
        },
      }),
      async (c) => {
        const { id } = c.req.valid("param");
        const { follow } = c.req.valid("query");
        const abort = new AbortController();
        const events = followJobEvents(deps, c.get("user"), id, follow, abort.signal);
        const first = await events.next();
        if (!follow) {
          const list = [];
          for (let item = first; !item.done; item = await events.next())
            if ("event" in item.value) list.push(item.value.event);
          return c.json({ events: list, complete: true }, 200);
        }
        return streamSSE(c, async (stream) => {
          stream.onAbort(() => abort.abort());
          for (let item = first; !item.done; item = await events.next()) {
            if ("event" in item.value) {
              await stream.writeSSE({
                event: item.value.event.type,
                id: item.value.event.id,
                data: JSON.stringify(item.value.event),
              });
            } else if ("closing" in item.value) {
              await stream.writeSSE(CLOSING);
            } else {
              const job = jobView(item.value.complete);
              await stream.writeSSE({
                event: "complete",
                data: JSON.stringify({ complete: true, status: job.status, exitCode: job.exitCode }),
              });
            }
          }
        }) as never;
      },
    );
}
