import type { Command } from "commander";
import type { JobView } from "../../shared/contracts/jobs.ts";
import type { JobNetworkView } from "../../shared/contracts/jobs-network.ts";
import { isId } from "../../shared/domain/ids.ts";
import { isFinalJob, JOB_STATUSES, type JobStatus as JobStatusName } from "../../shared/domain/job.ts";
import { collect, wholeNumber } from "../args.ts";
import type { ApiClient } from "../client.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { CliError } from "../errors.ts";
import { followJob } from "../follow-job.ts";
import { ago, type Column, exitWhenFlushed, printObject, printRows } from "../output.ts";
import { jobsTopCommand } from "./jobs-top.ts";

const columns: Column<JobView>[] = [
  { header: "ID", value: (j) => j.id },
  // A job without a name shows its command line instead.
  { header: "NAME", value: (j) => (j.name || commandLine(j))?.slice(0, 40) || undefined },
  { header: "USER", value: (j) => j.user },
  { header: "STATUS", value: (j) => j.status },
  { header: "EXIT", value: (j) => j.exitCode },
  { header: "GPUS", value: (j) => j.gpus?.count },
  { header: "HOST", value: (j) => j.host },
  { header: "SUBMITTED", value: (j) => ago(j.submissionTime) },
  { header: "MESSAGE", value: (j) => j.statusMessage?.slice(0, 60) },
];

const networkColumns: Column<JobNetworkView>[] = [
  { header: "HOST", value: (n) => n.host || undefined },
  { header: "IPS", value: (n) => n.ipAddresses.join(",") || undefined },
  { header: "ENDPOINTS", value: (n) => n.endpoints?.join(",") || undefined },
];

function commandLine(j: JobView): string | undefined {
  if (j.command) return j.command;
  return j.exe ? [j.exe, ...(j.args ?? [])].join(" ") : undefined;
}

/** Asks on a terminal before doing something to several jobs; elsewhere (a script) --yes must say so. */
async function confirm(what: string): Promise<void> {
  if (!process.stdin.isTTY || !process.stderr.isTTY)
    throw new CliError(`${what}? Not without --yes (no terminal to ask on)`, 2);
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`${what}? [y/N] `);
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliError("nothing done", 1);
}

/** How many of the caller's newest jobs a name or an id prefix is looked up in. */
const LOOKUP_JOBS = 500;

/**
 * A job named the way people name them: its id; an unambiguous prefix of it (`01m8sc`); or its name (the
 * newest job of yours with that name that is not final, else the newest with it). Looked up in your newest
 * jobs; ambiguous: a list of the matches (exit 2); none: say so.
 */
export async function jobIdOf(c: ApiClient, ref: string): Promise<string> {
  if (isId(ref)) return ref;
  const page = await c.request<{ items: Pick<JobView, "id" | "name" | "status">[] }>("GET", "/jobs", {
    query: { order: "desc", pageSize: LOOKUP_JOBS, fields: "id,name,status" },
  });
  const byName = page.items.filter((j) => j.name === ref);
  const live = byName.filter((j) => !isFinalJob(j.status as JobStatusName));
  if (live.length === 1 || (live.length === 0 && byName.length > 0)) return (live[0] ?? byName[0]!).id;
  const candidates = live.length > 1 ? live : page.items.filter((j) => j.id.startsWith(ref.toLowerCase()));
  if (candidates.length === 1) return candidates[0]!.id;
  if (candidates.length === 0)
    throw new CliError(
      `no job of yours is named ${ref} or has an id starting with it (of your newest ${LOOKUP_JOBS})`,
    );
  throw new CliError(
    `${ref} could be any of ${candidates.length} jobs; give more of the id:\n${candidates
      .slice(0, 10)
      .map((j) => `  ${j.id}  ${j.status}${j.name ? `  ${j.name}` : ""}`)
      .join("\n")}`,
    2,
  );
}

/** A job status as the Launcher spells it, from any case: running → Running. */
function jobStatusNamed(given: string): string {
  const status = JOB_STATUSES.find((s) => s.toLowerCase() === given.toLowerCase());
  if (!status) throw new CliError(`--status ${given}: use one of ${JOB_STATUSES.join(", ")}`, 2);
  return status;
}

/** `berth jobs list|get|network|top|logs|events|stop|kill|cancel|suspend|resume` */
export function jobsCommand(program: Command) {
  const jobs = program.command("jobs").description("jobs: list, inspect, follow and control them");
  const globals = () => program.opts<GlobalOptions>();
  const client = () => resolveClient(globals(), process.env);
  const path = (id: string) => `/jobs/${encodeURIComponent(id)}`;

  jobs
    .command("list")
    .description("list jobs (yours; --all for everyone's with an admin key)")
    .option("--status <status>", "only in this status (repeatable)", collect)
    .option("--tag <tag>", "only with this tag (repeatable; all must match)", collect)
    .option("--user <user>", "another user's jobs (admin)")
    .option("--all", "every user's jobs (admin)")
    .option("--since <time>", "submitted at or after (RFC 3339)")
    .option("--until <time>", "submitted at or before (RFC 3339)")
    .option("--limit <n>", "at most this many, newest first (0: all of them)", "50")
    .option("--oldest-first", "oldest first")
    .action(
      async (o: {
        status?: string[];
        tag?: string[];
        user?: string;
        all?: boolean;
        since?: string;
        until?: string;
        limit: string;
        oldestFirst?: boolean;
      }) => {
        const limit = o.limit === "0" ? 0 : wholeNumber(o.limit, "--limit")!;
        const query = {
          statuses: o.status?.map(jobStatusNamed),
          tags: o.tag,
          user: o.all ? "*" : o.user,
          startTime: o.since,
          endTime: o.until,
          order: o.oldestFirst ? "asc" : "desc",
        };
        const c = client();
        let items: JobView[];
        if (limit === 0 || limit > 500)
          items = (await c.listAll<JobView>("/jobs", query)).slice(0, limit || undefined);
        else {
          const page = await c.request<{ items: JobView[]; nextPageToken?: string }>("GET", "/jobs", {
            query: { ...query, pageSize: Math.min(limit, 500) },
          });
          items = page.items.slice(0, limit);
          // Said on stderr, so a script reading stdout (or -o json) gets only the jobs.
          if (page.nextPageToken || page.items.length > limit)
            process.stderr.write(
              `(the ${limit} ${o.oldestFirst ? "oldest" : "newest"}; --limit N or --limit 0 for more)\n`,
            );
        }
        printRows(outputFormat(globals()), items, columns);
      },
    );

  jobs.command("get <job>").action(async (ref: string) => {
    const c = client();
    printObject(outputFormat(globals()), await c.request<JobView>("GET", path(await jobIdOf(c, ref))));
  });

  jobs
    .command("network <job>")
    .description("where a running job can be reached: its host, IP addresses and endpoints")
    .action(async (ref: string) => {
      const c = client();
      const net = await c.request<JobNetworkView>("GET", `${path(await jobIdOf(c, ref))}/network`);
      if (outputFormat(globals()) === "json") return printObject("json", net);
      printRows("table", [net], networkColumns);
      if (net.berth.partial)
        process.stderr.write(`(partial: not known: ${net.berth.missing ?? "something"})\n`);
    });

  jobsTopCommand(jobs, client, globals, jobIdOf);

  jobs
    .command("logs <job>")
    .description("print a job's output")
    .option(
      "-f, --follow",
      "keep printing until the job ends, across server restarts; exit with its exit code",
    )
    .option("--stream <stream>", "stdout, stderr or mixed", "mixed")
    .action(async (ref: string, o: { follow?: boolean; stream: string }) => {
      const c = client();
      const id = await jobIdOf(c, ref);
      if (o.follow) await exitWhenFlushed(await followJob(c, id, { stream: o.stream }));
      const out = await c.request<{ output: { stream: string; data: string }[] }>(
        "GET",
        `${path(id)}/output`,
        {
          query: { stream: o.stream },
        },
      );
      for (const line of out.output)
        (line.stream === "stderr" ? process.stderr : process.stdout).write(line.data);
    });

  jobs
    .command("events <job>")
    .description("print a job's lifecycle events")
    .action(async (ref: string) => {
      const c = client();
      const id = await jobIdOf(c, ref);
      const out = await c.request<{ events: { at: string; type: string; message: string }[] }>(
        "GET",
        `${path(id)}/events`,
        { query: { follow: "false" } },
      );
      if (outputFormat(globals()) === "json") return printObject("json", out);
      for (const e of out.events) process.stdout.write(`${e.at}  ${e.type.padEnd(15)} ${e.message}\n`);
    });

  for (const [operation, description] of [
    ["stop", "SIGTERM, the grace period, then SIGKILL (Running jobs)"],
    ["kill", "SIGKILL (Running jobs)"],
    ["cancel", "withdraw a Pending job"],
    ["suspend", "SIGSTOP (Running jobs)"],
    ["resume", "SIGCONT (Suspended jobs)"],
  ] as const) {
    jobs
      .command(`${operation} [jobs...]`)
      .description(`${description}; several jobs (or --tag/--status): each in turn`)
      .option("--tag <tag>", "every job of yours with this tag (repeatable; all must match)", collect)
      .option("--status <status>", "every job of yours in this status (repeatable)", collect)
      .option("-y, --yes", "do it to more than one job without asking")
      .action(async (refs: string[], o: { tag?: string[]; status?: string[]; yes?: boolean }) => {
        const c = client();
        const ids: string[] = [];
        let failed = 0;
        const fail = (ref: string, err: unknown) => {
          // One that cannot be found or controlled does not stop the others; the exit code says some failed.
          if (refs.length + ids.length <= 1 || !(err instanceof CliError)) throw err;
          failed++;
          process.stderr.write(`error: ${ref}: ${err.message}\n`);
        };
        for (const ref of refs) {
          try {
            const id = await jobIdOf(c, ref);
            if (!ids.includes(id)) ids.push(id);
          } catch (err) {
            fail(ref, err);
          }
        }
        if (o.tag || o.status) {
          const selected = await c.listAll<JobView>("/jobs", {
            tags: o.tag,
            statuses: o.status?.map(jobStatusNamed),
            fields: "id",
          });
          for (const j of selected) if (!ids.includes(j.id)) ids.push(j.id);
        }
        if (ids.length === 0 && failed === 0)
          throw new CliError(
            refs.length || o.tag || o.status
              ? "no job of yours matches"
              : `name the jobs to ${operation}, or select them with --tag or --status`,
            2,
          );
        if (ids.length > 1 && !o.yes) await confirm(`${operation} ${ids.length} jobs`);
        for (const id of ids) {
          try {
            const job = await c.request<JobView>("POST", `${path(id)}/control`, { body: { operation } });
            process.stdout.write(`${job.id}: ${job.status} (${job.statusMessage})\n`);
          } catch (err) {
            fail(id, err);
          }
        }
        if (failed) throw new CliError(`${failed} of ${ids.length + failed} jobs could not ${operation}`);
      });
  }
}
