import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { runCli, type ServerProcess, spawnCli, startServerProcess, tempDir } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

interface Job {
  id: string;
  status: string;
  exitCode?: number;
  pid?: number;
  statusCode?: string;
}

/** The state letter of a process (R, S, T for stopped, ...), from /proc. */
async function procState(pid: number): Promise<string | undefined> {
  try {
    return /State:\s+(\w)/.exec(await readFile(`/proc/${pid}/status`, "utf8"))?.[1];
  } catch {
    return undefined;
  }
}

describe("jobs through the real server, a real agent and the CLI", () => {
  let server: ServerProcess;
  let agent: AgentProcess;
  let dataDir: string;
  const cli = (args: string[]) => runCli(["--endpoint", server.url, ...args], { BERTH_DATA_DIR: dataDir });
  const getJob = async (id: string) =>
    JSON.parse((await cli(["jobs", "get", id, "-o", "json"])).stdout) as Job;
  const until_ = (id: string, check: (j: Job) => boolean) =>
    until(async () => check(await getJob(id)), 30_000);

  beforeAll(async () => {
    dataDir = await tempDir("e2e-jobs");
    server = await startServerProcess(dataDir, { BERTH_POLL_WAIT_SECONDS: "5" });
    const created = await cli(["tokens", "create", "--name", "gpu-box", "-o", "json"]);
    const token = (JSON.parse(created.stdout) as { token: string }).token;
    const agentDir = await mkdtemp(join(tmpdir(), "berth-agent-"));
    agent = startAgentProcess([
      "--endpoint",
      server.url,
      "--token",
      token,
      "--data-dir",
      agentDir,
      "--gpu-count",
      "2",
      "--runtime",
      "process",
    ]);
    await until(
      async () =>
        (JSON.parse((await cli(["devices", "list", "-o", "json"])).stdout) as unknown[]).length === 1,
      30_000,
    );
  }, 90_000);
  afterAll(async () => {
    await agent?.stop("SIGKILL");
    await server?.stop("SIGKILL");
  });

  it("berth run -- echo hi prints hi and exits 0", async () => {
    const { code, stdout, stderr } = await cli(["run", "--", "echo", "hi"]);
    expect(stdout).toBe("hi\n");
    expect(code).toBe(0);
    expect(stderr).toMatch(/placed on /);
  });

  // Ctrl-C on berth run leaves the job alone (test/e2e/follow.test.ts); berth jobs stop is how to stop it.
  it("berth jobs stop on a job berth run follows: it ends Finished (UserStop) and berth run exits 143", async () => {
    const run = spawnCli(["--endpoint", server.url, "run", "--", "sleep", "60"], { BERTH_DATA_DIR: dataDir });
    await until(async () => /started: /.test(run.stderr()), 30_000);
    const id = /job (\S+) /.exec(run.stderr())![1]!;
    expect((await cli(["jobs", "stop", id])).code).toBe(0);
    expect(await run.exited).toBe(143);
    expect(await getJob(id)).toMatchObject({ status: "Finished", statusCode: "UserStop", exitCode: 143 });
  });

  it("berth run exits with the job's exit code when started as npx berth too, its output piped", async () => {
    const { execFile } = await import("node:child_process");
    const root = join(import.meta.dirname, "../..");
    const outcome = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(
        "npx",
        ["--no-install", "berth", "--endpoint", server.url, "run", "--", "sh", "-c", "echo seven; exit 7"],
        { cwd: root, env: { ...process.env, BERTH_DATA_DIR: dataDir } },
        () => {},
      );
      let stdout = "";
      child.stdout!.on("data", (d: Buffer) => {
        stdout += d;
      });
      child.on("close", (code) => resolve({ code, stdout }));
    });
    expect(outcome).toEqual({ code: 7, stdout: "seven\n" });
  });

  it("berth run -- sh -c 'exit 3' exits 3, and the job shows Finished with exitCode 3", async () => {
    const { code, stderr } = await cli(["run", "--", "sh", "-c", "echo oops >&2; exit 3"]);
    expect(code).toBe(3);
    expect(stderr).toContain("oops");
    const jobs = JSON.parse((await cli(["jobs", "list", "-o", "json"])).stdout) as (Job & {
      args: string[];
    })[];
    const job = jobs.find((j) => j.args.includes("echo oops >&2; exit 3"))!;
    expect(job).toMatchObject({ status: "Finished", exitCode: 3 });
  });

  it("berth jobs list: newest first, --limit (saying there are more), --oldest-first", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await cli(["run", "-d", "--", "true"])).stdout.trim());
    const listed = async (...args: string[]) => {
      const out = await cli(["jobs", "list", "-o", "json", ...args]);
      return { ids: (JSON.parse(out.stdout) as Job[]).map((j) => j.id), stderr: out.stderr };
    };
    const newest = await listed("--limit", "2");
    expect(newest.ids).toEqual([ids[2], ids[1]]);
    expect(newest.stderr).toContain("(the 2 newest; --limit N or --limit 0 for more)");
    const all = await listed("--limit", "0");
    expect(all.ids.slice(0, 3)).toEqual([ids[2], ids[1], ids[0]]);
    expect(all.stderr).toBe("");
    const oldest = await listed("--oldest-first", "--limit", "0");
    expect(oldest.ids).toEqual([...all.ids].reverse());
  });

  it("suspends (SIGSTOP), resumes (SIGCONT) and stops (SIGTERM: Finished 143) a running job", async () => {
    const id = (await cli(["run", "-d", "--", "sleep", "60"])).stdout.trim();
    await until_(id, (j) => j.status === "Running" && j.pid !== undefined);
    const { pid } = await getJob(id);
    expect((await cli(["jobs", "suspend", id])).stdout).toContain("Suspended");
    await until(async () => (await procState(pid!)) === "T", 10_000);
    expect((await cli(["jobs", "resume", id])).stdout).toContain("Running");
    await until(async () => (await procState(pid!)) !== "T", 10_000);
    expect((await cli(["jobs", "stop", id])).code).toBe(0);
    await until_(id, (j) => j.status === "Finished");
    expect(await getJob(id)).toMatchObject({ status: "Finished", exitCode: 143, statusCode: "UserStop" });
  });

  it("kills a job that ignores SIGTERM: Killed, 137", async () => {
    const id = (await cli(["run", "-d", "--", "sh", "-c", "trap '' TERM; sleep 60"])).stdout.trim();
    await until_(id, (j) => j.status === "Running");
    await cli(["jobs", "kill", id]);
    await until_(id, (j) => j.status === "Killed");
    expect(await getJob(id)).toMatchObject({ status: "Killed", exitCode: 137 });
  });

  it("berth jobs kill a b c: each in turn; one that fails is said, the others are still killed, exit 1", async () => {
    const a = (await cli(["run", "-d", "--", "sleep", "60"])).stdout.trim();
    const b = (await cli(["run", "-d", "--", "sleep", "60"])).stdout.trim();
    await until_(a, (j) => j.status === "Running");
    await until_(b, (j) => j.status === "Running");
    // More than one: asked on a terminal; a script says --yes.
    const unasked = await cli(["jobs", "kill", a, b]);
    expect(unasked.code).toBe(2);
    expect(unasked.stderr).toContain("kill 2 jobs? Not without --yes");
    expect((await getJob(a)).status).toBe("Running");
    const out = await cli(["jobs", "kill", "--yes", a, "nope", b]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("error: nope:");
    expect(out.stderr).toContain("1 of 3 jobs could not kill");
    await until_(a, (j) => j.status === "Killed");
    await until_(b, (j) => j.status === "Killed");
    // By tag: every job of yours with it.
    const t1 = (await cli(["run", "-d", "--tag", "sweep-7", "--", "sleep", "60"])).stdout.trim();
    const t2 = (await cli(["run", "-d", "--tag", "sweep-7", "--", "sleep", "60"])).stdout.trim();
    await until_(t1, (j) => j.status === "Running");
    await until_(t2, (j) => j.status === "Running");
    const tagged = await cli(["jobs", "stop", "--tag", "sweep-7", "--status", "running", "--yes"]);
    expect(tagged, tagged.stderr).toMatchObject({ code: 0 });
    await until_(t1, (j) => j.status === "Finished");
    await until_(t2, (j) => j.status === "Finished");
  });

  it("takes a job's name or an unambiguous id prefix wherever it takes an id", async () => {
    const id = (await cli(["run", "-d", "--name", "train-a", "--", "sleep", "60"])).stdout.trim();
    await until_(id, (j) => j.status === "Running");
    const byName = await cli(["jobs", "get", "train-a", "-o", "json"]);
    expect((JSON.parse(byName.stdout) as Job).id).toBe(id);
    // A name is unique among a key's jobs that have not ended: the second is refused, naming the first.
    const twice = await cli(["run", "-d", "--name", "train-a", "--", "true"]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain(`named "train-a" has not ended (${id}, Running)`);
    const byPrefix = await cli(["jobs", "get", id.slice(0, 20), "-o", "json"]);
    expect((JSON.parse(byPrefix.stdout) as Job).id).toBe(id);
    // Ids are time-ordered: two made moments apart start alike, so a short prefix is ambiguous, and says so.
    await cli(["run", "-d", "--", "true"]);
    const ambiguous = await cli(["jobs", "get", id.slice(0, 2)]);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/could be any of \d+ jobs; give more of the id/);
    expect(ambiguous.stderr).toContain(id);
    const none = await cli(["jobs", "get", "no-such-job"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no job of yours is named no-such-job");
    expect((await cli(["jobs", "kill", "train-a"])).code).toBe(0);
    await until_(id, (j) => j.status === "Killed");
    const reused = (await cli(["run", "-d", "--name", "train-a", "--", "true"])).stdout.trim();
    expect(reused).not.toBe(id);
    expect((JSON.parse((await cli(["jobs", "get", "train-a", "-o", "json"])).stdout) as Job).id).toBe(reused);
  });

  it("stops a job that ignores SIGTERM once its grace period is over: Killed, UserStop, 137", async () => {
    const id = (
      await cli(["run", "-d", "--", "sh", "-c", "trap '' TERM; while true; do sleep 1; done"])
    ).stdout.trim();
    await until_(id, (j) => j.status === "Running");
    expect((await cli(["jobs", "stop", id])).code).toBe(0);
    await until_(id, (j) => j.status !== "Running");
    expect(await getJob(id)).toMatchObject({ status: "Killed", statusCode: "UserStop", exitCode: 137 });
  });

  it("stops and kills suspended jobs (stop resumes it so that it can act on SIGTERM)", async () => {
    const stopped = (await cli(["run", "-d", "--", "sleep", "60"])).stdout.trim();
    const killed = (await cli(["run", "-d", "--", "sleep", "60"])).stdout.trim();
    for (const id of [stopped, killed]) {
      await until_(id, (j) => j.status === "Running" && j.pid !== undefined);
      expect((await cli(["jobs", "suspend", id])).stdout).toContain("Suspended");
      await until(async () => (await procState((await getJob(id)).pid!)) === "T", 10_000);
    }
    expect((await cli(["jobs", "stop", stopped])).code).toBe(0);
    expect((await cli(["jobs", "kill", killed])).code).toBe(0);
    await until_(stopped, (j) => j.status === "Finished");
    expect(await getJob(stopped)).toMatchObject({ exitCode: 143, statusCode: "UserStop" });
    await until_(killed, (j) => j.status === "Killed");
    expect(await getJob(killed)).toMatchObject({ exitCode: 137, statusCode: "UserKill" });
  });

  it("does not place a container job on an agent that runs processes only, and says why", async () => {
    const id = (await cli(["run", "-d", "--image", "alpine:3", "--", "echo", "hi"])).stdout.trim();
    const j = JSON.parse((await cli(["jobs", "get", id, "-o", "json"])).stdout) as Job & {
      statusMessage: string;
    };
    expect(j).toMatchObject({ status: "Pending", statusCode: "NeverFits" });
    expect(j.statusMessage).toContain("no container runtime");
    expect((await cli(["jobs", "cancel", id])).code).toBe(0);
  });

  it("a job waiting for GPUs runs when another job gives them back", async () => {
    const big = (await cli(["run", "-d", "--gpus", "2", "--", "sleep", "60"])).stdout.trim();
    await until_(big, (j) => j.status === "Running");
    const small = (
      await cli(["run", "-d", "--gpus", "1", "--", "sh", "-c", "echo got $CUDA_VISIBLE_DEVICES"])
    ).stdout.trim();
    expect(await getJob(small)).toMatchObject({ status: "Pending", statusCode: "NoCapacity" });
    const refused = await cli(["jobs", "resume", small]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("Job must be Suspended to Resume it (current status: Pending)");
    await cli(["jobs", "stop", big]);
    const logs = await cli(["jobs", "logs", small, "-f"]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/^got [01]\n$/);
  });

  it("cancels a pending job", async () => {
    const id = (await cli(["run", "-d", "--gpus", "8", "--", "true"])).stdout.trim();
    expect(await getJob(id)).toMatchObject({ status: "Pending", statusCode: "NeverFits" });
    expect((await cli(["jobs", "cancel", id])).stdout).toContain("Canceled");
  });

  it("shows the quota in use, and enforces a limit", async () => {
    expect((await cli(["quotas", "set", "--max-running-jobs", "1"])).code).toBe(0);
    const running = (await cli(["run", "-d", "--", "sleep", "30"])).stdout.trim();
    const refused = await cli(["run", "--", "true"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("quota exceeded: maxRunningJobs is 1 and 1 running jobs are in use");
    expect((await cli(["quotas"])).stdout).toMatch(/runningJobs:\s+1 of 1/);
    await cli(["jobs", "kill", running]);
    await cli(["quotas", "set", "--max-running-jobs", "none"]);
  });
});
