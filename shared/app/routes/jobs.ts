import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { IdParam } from "../../contracts/common.ts";
import {
  ControlJobRequest,
  EventCursor,
  JobEventList,
  JobEventsQuery,
  JobOutput,
  JobOutputQuery,
  JobPage,
  JobView,
  ListJobsQuery,
  OutputCursor,
  SubmitJobRequest,
} from "../../contracts/jobs.ts";
import { JobNetworkView } from "../../contracts/jobs-network.ts";
import { Role } from "../../domain/roles.ts";
import { controlJob } from "../../usecases/jobs/control-job.ts";
import { jobNetwork } from "../../usecases/jobs/job-network.ts";
import {
  type FollowItem,
  followJobEvents,
  followJobOutput,
  jobOutput,
} from "../../usecases/jobs/job-output.ts";
import { getJob, jobView, listJobs, submitJob } from "../../usecases/jobs/jobs.ts";
import { withJobConfig } from "../../usecases/jobs/submit-checks.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { type FollowMessage, type FollowWindow, followStream, resumeCursor } from "../follow-stream.ts";
import { requireUser } from "../middleware/auth.ts";
import { bearerSecurity, errorResponses, json, jsonBody, sse } from "../openapi.ts";
import { listPage } from "../pagination.ts";

/** What every follow stream does, for the OpenAPI descriptions. */
const RESUME =
  "Every event's `id:` is a cursor: send the last one back as `Last-Event-ID` (or `after=`) and the stream " +
  "resumes right after it, with nothing lost or repeated (after a server restart too). Headers are sent at " +
  "once, then a `: keep-alive` comment at least every 15 s (BERTH_FOLLOW_KEEPALIVE_MS). Besides its own " +
  "events the stream sends `status` (`{status, statusCode, statusMessage}`, when it opens and whenever that " +
  "changes: why a pending job waits), `closing` (the server is stopping: follow again from the cursor; a " +
  "stopping server answers 503), `continue` (a host that buffers responses, BERTH_FOLLOW_MODE=window, ends " +
  "each one about a second after it had something to say, or after BERTH_FOLLOW_WINDOW_SECONDS: follow " +
  "again at once from the cursor) and, last, `complete` (the job is final).";
const FOLLOW_OUTPUT =
  "With follow=true, server-sent `output` events (`{seqId, stream, data}`). The cursor is a position in the " +
  "job's output: the number of the last chunk the event covered, counting the chunks of both streams from 1 " +
  `(0: from the start). ${RESUME}`;
const FOLLOW_EVENTS =
  "Server-sent events named by their type (`accepted`, `placed`, `started`, ...), or with follow=false the " +
  "list as JSON. The cursor is the id of the last lifecycle event covered (they sort by id; 0: from the " +
  `start); after= also applies to the JSON list. ${RESUME}`;

/** A follow stream's messages: the items `own` names, and the status, closing and complete every stream has. */
async function* messages<I extends FollowItem<string | number, object>>(
  items: AsyncIterable<I>,
  own: (item: I) => { event: string; data: string } | undefined,
): AsyncGenerator<FollowMessage> {
  for await (const item of items) {
    const id = String(item.cursor);
    const mine = own(item);
    if (mine) yield { ...mine, id };
    else if ("status" in item) {
      const job = jobView(item.status);
      yield {
        event: "status",
        id,
        data: JSON.stringify({
          status: job.status,
          statusCode: job.statusCode,
          statusMessage: job.statusMessage,
        }),
      };
    } else if ("closing" in item) {
      yield {
        event: "closing",
        id,
        data: JSON.stringify({
          reason: "the control plane is shutting down; follow again (Last-Event-ID) to continue",
        }),
      };
    } else if ("complete" in item) {
      const job = jobView(item.complete);
      yield {
        event: "complete",
        id,
        data: JSON.stringify({
          complete: true,
          status: job.status,
          exitCode: job.exitCode,
          statusMessage: job.statusMessage,
        }),
      };
    }
  }
}

/**
 * Where a follow request goes when this host cannot hold a stream (`followMode: redirect`, AWS Lambda): the
 * same path and query on the agent endpoint (the long-running service). Undefined: served here.
 */
export function followElsewhere(deps: AppDeps, requestUrl: string): string | undefined {
  const target = deps.config.agentEndpoint;
  if (deps.config.followMode !== "redirect" || !target) return undefined;
  const from = new URL(requestUrl);
  const to = new URL(target);
  to.pathname = `${to.pathname.replace(/\/+$/, "")}${from.pathname}`;
  to.search = from.search;
  return to.toString();
}

/** How long a windowed follow response goes on after its first event: a burst of output arrives as one answer. */
const WINDOW_LINGER_MS = 1000;

/** The bounds of a follow response on a host that buffers and has nowhere to redirect to (`followMode: window`). */
export const followWindow = (deps: AppDeps): FollowWindow | undefined =>
  deps.config.followMode === "window"
    ? { ms: deps.config.followWindowSeconds * 1000, lingerMs: WINDOW_LINGER_MS }
    : undefined;

/** `/api/v1/jobs`: Launcher-model GPU jobs (jobs.md). Any key; members see and control their own jobs. */

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
      async (c) => {
        // The Launcher's config[] entries fill fields the request left out: which ones it had, from its JSON.
        const given = new Set(Object.keys((await c.req.json()) as object));
        return c.json(await submitJob(deps, c.get("user"), withJobConfig(c.req.valid("json"), given)), 201);
      },
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
          order: q.order,
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
        method: "get",
        path: "/jobs/{id}/network",
        summary: "Where a running job can be reached: host, IP addresses, endpoints (409 unless it runs)",
        request: { params: IdParam },
        responses: { 200: json("the job's network", JobNetworkView), ...errorResponses(401, 404, 409, 503) },
      }),
      async (c) => c.json(await jobNetwork(deps, c.get("user"), c.req.valid("param").id), 200),
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
        description: FOLLOW_OUTPUT,
        request: { params: IdParam, query: JobOutputQuery },
        responses: {
          200: {
            ...json("output so far", JobOutput),
            content: { ...json("", JobOutput).content, ...sse("").content },
          },
          307: {
            description: "this host cannot hold a stream (AWS Lambda): the same request at Location can",
          },
          ...errorResponses(400, 401, 404, 503),
        },
      }),
      async (c) => {
        const { id } = c.req.valid("param");
        const q = c.req.valid("query");
        const user = c.get("user");
        if (!q.follow) return c.json(await jobOutput(deps, user, id, q.stream), 200);
        const elsewhere = followElsewhere(deps, c.req.url);
        if (elsewhere) return c.redirect(elsewhere, 307) as never;
        const after = resumeCursor(c, OutputCursor, q.after);
        const abort = new AbortController();
        // A missing job is a 404 here, before the stream opens; after that, the headers go at once.
        const items = await followJobOutput(deps, user, id, { stream: q.stream, after }, abort.signal);
        return followStream(
          c,
          deps.config.followKeepAliveMs,
          abort,
          messages(items, (item) =>
            "line" in item ? { event: "output", data: JSON.stringify(item.line) } : undefined,
          ),
          followWindow(deps),
        ) as never;
      },
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/jobs/{id}/events",
        summary:
          "The job's lifecycle: accepted, placed, started, exited... (server-sent events until final; follow=false: JSON)",
        description: FOLLOW_EVENTS,
        request: {
          params: IdParam,
          query: JobEventsQuery,
        },
        responses: {
          200: {
            ...sse("events as they happen"),
            content: { ...sse("").content, ...json("", JobEventList).content },
          },
          307: {
            description: "this host cannot hold a stream (AWS Lambda): the same request at Location can",
          },
          ...errorResponses(400, 401, 404, 503),
        },
      }),
      async (c) => {
        const { id } = c.req.valid("param");
        const { follow, after: queryAfter } = c.req.valid("query");
        const elsewhere = follow ? followElsewhere(deps, c.req.url) : undefined;
        if (elsewhere) return c.redirect(elsewhere, 307) as never;
        const after = resumeCursor(c, EventCursor, queryAfter);
        const abort = new AbortController();
        const opts = { follow, after: after === "0" ? undefined : after };
        const items = await followJobEvents(deps, c.get("user"), id, opts, abort.signal);
        if (!follow) {
          const list = [];
          for await (const item of items) if ("event" in item) list.push(item.event);
          return c.json({ events: list, complete: true }, 200);
        }
        return followStream(
          c,
          deps.config.followKeepAliveMs,
          abort,
          messages(items, (item) =>
            "event" in item ? { event: item.event.type, data: JSON.stringify(item.event) } : undefined,
          ),
          followWindow(deps),
        ) as never;
      },
    );
}
