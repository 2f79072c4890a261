import { useEffect, useRef, useState } from "preact/hooks";
import { JOB_OPERATION_NAMES, operationAllowed } from "../../../shared/domain/job-status.ts";
import { ApiError, api, FollowedElsewhere, follow, ok } from "../api.ts";
import { REFRESH_MS, useLive } from "../live.ts";
import type { Page } from "../page.ts";
import { Action, Ago, ErrorNote, Link, Loading, Status } from "../ui.tsx";

interface Line {
  /** Unique on the page: the event's cursor (a line's seqId starts again at 1 on each connection). */
  key: string;
  stream: "stdout" | "stderr";
  data: string;
}

/** The newest lines a page keeps. */
const MAX_LINES = 5000;

/** The job's output, followed live (server-sent events), resuming after the last line when the stream drops. */
function Output({ id }: { id: string }) {
  const [lines, setLines] = useState<Line[]>([]);
  const [state, setState] = useState<"connecting" | "live" | "lost" | "complete">("connecting");
  const [why, setWhy] = useState<string>();
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const stop = new AbortController();
    setLines([]);
    follow(
      `/jobs/${encodeURIComponent(id)}/output?follow=true&stream=mixed`,
      (e) => {
        if (e.event === "output") {
          const line = JSON.parse(e.data) as Omit<Line, "key">;
          setLines((l) => [...l, { ...line, key: e.id ?? String(l.length) }].slice(-MAX_LINES));
        } else if (e.event === "complete") setState("complete");
      },
      {
        signal: stop.signal,
        onConnection: (up, reason) => {
          setState(up ? "live" : "lost");
          setWhy(reason);
        },
      },
    ).catch(async (err: Error) => {
      if (!(err instanceof FollowedElsewhere)) {
        setState("lost");
        setWhy(err.message);
        return;
      }
      // No stream on this host: the output so far, every few seconds, until the job has ended.
      setState("live");
      while (!stop.signal.aborted) {
        try {
          const out = await ok(
            api.jobs[":id"].output.$get({ param: { id }, query: { stream: "mixed", follow: "false" } }),
          );
          if (typeof out === "object" && "output" in out) {
            setLines(
              out.output
                .slice(-MAX_LINES)
                .map((l) => ({ key: String(l.seqId), stream: l.stream, data: l.data })),
            );
            if (out.complete) return setState("complete");
          }
        } catch (e) {
          // 404 until the job has printed something.
          if (!(e instanceof ApiError && e.status === 404)) setWhy((e as Error).message);
        }
        do await new Promise((r) => setTimeout(r, REFRESH_MS));
        while (document.visibilityState === "hidden" && !stop.signal.aborted);
      }
    });
    return () => stop.abort();
  }, [id]);
  useEffect(() => {
    const el = box.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <section aria-labelledby="output">
      <h2 id="output">
        Output{" "}
        <span
          class={`status ${state === "live" ? "good" : state === "lost" ? "bad" : "muted"}`}
          data-follow={state}
        >
          {state === "live" ? "following" : state === "lost" ? "reconnecting" : state}
        </span>
      </h2>
      {state === "lost" && why ? <p class="muted">connection lost ({why}); trying again</p> : null}
      {/* A log, whose new lines are not read out one by one. */}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: it scrolls, so it must be reachable by keyboard (WCAG 2.1.1) */}
      <pre class="output" ref={box} role="log" tabIndex={0} aria-label="job output" aria-live="off">
        {lines.length === 0 ? <span class="muted">no output yet</span> : null}
        {lines.map((l) => (
          <span key={l.key} class={l.stream}>
            {l.data.endsWith("\n") ? l.data : `${l.data}\n`}
          </span>
        ))}
      </pre>
    </section>
  );
}

/** The events of a JSON answer (the route also answers server-sent events, typed as text). */
function timeline<T extends object>(data: T | string | undefined) {
  return data && typeof data === "object" && "events" in data ? (data.events as JobEvent[]) : [];
}
interface JobEvent {
  id: string;
  type: string;
  message: string;
  status: string;
  at: string;
}

/** One job: what it is, where it runs, its timeline (events), live output and the control buttons. */
function JobPage({ params }: { params: Record<string, string> }) {
  const id = params.id!;
  const job = useLive(() => ok(api.jobs[":id"].$get({ param: { id } })), [id]);
  const events = useLive(
    () => ok(api.jobs[":id"].events.$get({ param: { id }, query: { follow: "false" } })),
    [id],
  );
  if (!job.data) return job.error ? <ErrorNote error={job.error} /> : <Loading />;
  const j = job.data;
  const refresh = () => {
    void job.refresh();
    void events.refresh();
  };
  return (
    <>
      <p>
        <Link to="/jobs">← Jobs</Link>
      </p>
      <h2 class="job-title">
        {j.name || j.id} <Status value={j.status} />
      </h2>
      <dl class="facts">
        <dt>Id</dt>
        <dd>
          <code>{j.id}</code>
        </dd>
        <dt>Command</dt>
        <dd>
          <code>{j.command ?? [j.exe, ...(j.args ?? [])].join(" ")}</code>
        </dd>
        <dt>Status</dt>
        <dd>
          {j.status} {j.statusCode ? `(${j.statusCode})` : ""}: {j.statusMessage}
        </dd>
        {j.exitCode !== undefined ? (
          <>
            <dt>Exit code</dt>
            <dd>{j.exitCode}</dd>
          </>
        ) : null}
        <dt>User</dt>
        <dd>{j.user}</dd>
        <dt>Host</dt>
        <dd>{j.host ?? "—"}</dd>
        <dt>GPUs</dt>
        <dd>
          {j.gpus?.count ?? 0} {j.gpus?.type ?? ""}
        </dd>
        {j.container ? (
          <>
            <dt>Image</dt>
            <dd>
              <code>{j.container.image}</code>
            </dd>
          </>
        ) : null}
        <dt>Submitted</dt>
        <dd>
          <Ago at={j.submissionTime} />
        </dd>
        {j.tags?.length ? (
          <>
            <dt>Tags</dt>
            <dd>
              {j.tags.map((t) => (
                <span class="tag" key={t}>
                  {t}
                </span>
              ))}
            </dd>
          </>
        ) : null}
      </dl>
      <div class="controls">
        {JOB_OPERATION_NAMES.filter((op) => j.status && operationAllowed(op, j.status)).map((op) => (
          <Action
            key={op}
            label={op[0]!.toUpperCase() + op.slice(1)}
            danger={op === "kill"}
            confirm={op === "kill" ? "Kill the job now (SIGKILL, no grace period)?" : undefined}
            run={() => ok(api.jobs[":id"].control.$post({ param: { id }, json: { operation: op } }))}
            done={refresh}
          />
        ))}
      </div>
      <section aria-labelledby="timeline">
        <h2 id="timeline">Timeline</h2>
        <ErrorNote error={events.error} />
        <ol class="timeline">
          {timeline(events.data).map((e) => (
            <li key={e.id}>
              <Ago at={e.at} /> <strong>{e.type}</strong> <Status value={e.status} /> {e.message}
            </li>
          ))}
        </ol>
      </section>
      <Output id={id} />
    </>
  );
}

export const job: Page = { path: "/jobs/:id", title: "Job", nav: false, component: JobPage };
