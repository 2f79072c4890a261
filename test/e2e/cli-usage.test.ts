import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, tempDir } from "../helpers/processes.ts";

/** Nothing listens there: the commands below fail before they would need a server, or say they cannot reach it. */
const NOWHERE = { BERTH_ENDPOINT: "http://127.0.0.1:9", BERTH_API_KEY: `berth_sk_${"0".repeat(26)}_x` };

describe("the CLI's usage errors: exit 2, and a line that says what to do", () => {
  it("berth run ls -la: says to put the command after --, without all the help", async () => {
    const { code, stderr } = await runCli(["run", "ls", "-la"], NOWHERE);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown option '-la'");
    expect(stderr).toContain("put the program and its arguments after --, e.g. berth run --gpus 1 -- ls -la");
    expect(stderr).not.toContain("Usage:");
  });

  it("an unknown option or a missing argument exits 2; --help and --version exit 0", async () => {
    expect((await runCli(["keys", "list", "--bogus"], NOWHERE)).code).toBe(2);
    expect((await runCli(["keys", "revoke"], NOWHERE)).code).toBe(2);
    expect((await runCli(["--version"], NOWHERE)).code).toBe(0);
    expect((await runCli(["keys", "--help"], NOWHERE)).code).toBe(0);
  });

  it("--gpus -1 says the bound", async () => {
    const { code, stderr } = await runCli(["run", "--gpus", "-1", "--", "true"], NOWHERE);
    expect(code).toBe(2);
    expect(stderr).toContain("--gpus must be a whole number ≥ 0, not -1");
  });

  it("--status takes a status in any case, and names the statuses when it is none of them", async () => {
    const ok = await runCli(["jobs", "list", "--status", "running"], NOWHERE);
    expect(ok.stderr).toContain("cannot reach Berth"); // accepted: it went on to ask the server
    const bad = await runCli(["jobs", "list", "--status", "sleeping"], NOWHERE);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--status sleeping: use one of Pending, Running");
  });
});

describe("the agent's settings: refused in one line, exit 2, before it does anything", () => {
  it("a token file it cannot read, an empty one, a token given twice, a bad fallback setting", async () => {
    const dir = await tempDir("agent-usage");
    const agent = (args: string[], env: Record<string, string> = {}) =>
      runCli(["agent", "--endpoint", "http://127.0.0.1:9", "--data-dir", join(dir, "data"), ...args], env);
    const missing = await agent(["--token-file", join(dir, "nope")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--token-file ${join(dir, "nope")}: ENOENT`);
    await writeFile(join(dir, "empty"), "\n");
    expect((await agent(["--token-file", join(dir, "empty")])).stderr).toContain("is empty");
    await writeFile(join(dir, "token"), "berth_rt_x\n");
    const twice = await agent(["--token", "berth_rt_y", "--token-file", join(dir, "token")]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain("give the registration token once");
    const fallback = await agent(["--token-file", join(dir, "token")], {
      BERTH_AGENT_ENDPOINT_FALLBACK_SECONDS: "soon",
    });
    expect(fallback.code).toBe(2);
    expect(fallback.stderr).toContain("BERTH_AGENT_ENDPOINT_FALLBACK_SECONDS=soon");
    // Nothing was made: no data dir, no keys.
    expect(existsSync(join(dir, "data"))).toBe(false);
  });
});

describe("shell completion", () => {
  it("berth completion bash completes commands, subcommands and options from the CLI's own tree", async () => {
    const { code, stdout } = await runCli(["completion", "bash"], NOWHERE);
    expect(code).toBe(0);
    const complete = (...words: string[]) => {
      const script = `${stdout}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _berth; echo "\${COMPREPLY[@]}"`;
      return spawnSync("bash", ["-c", script], { encoding: "utf8" }).stdout.trim();
    };
    expect(complete("berth", "jo")).toBe("jobs");
    expect(complete("berth", "jobs", "l").split(" ")).toEqual(["list", "logs"]);
    expect(complete("berth", "jobs", "list", "--status", "running", "--t")).toBe("--tag");
    expect((await runCli(["completion", "fish"], NOWHERE)).code).toBe(2);
  });
});
