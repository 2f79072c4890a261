import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type ServerProcess, startServerProcess, tempDir } from "../helpers/processes.ts";

describe("berth apps and berth labs against a real server", () => {
  let server: ServerProcess;
  let dataDir: string;
  const cli = (args: string[]) => runCli(["--endpoint", server.url, ...args], { BERTH_DATA_DIR: dataDir });
  beforeAll(async () => {
    dataDir = await tempDir("e2e-apps");
    server = await startServerProcess(dataDir);
  }, 60_000);
  afterAll(() => server?.stop());

  it("creates from a YAML spec, lists, shows status, updates, restarts and deletes; a bad file names its line", async () => {
    const dir = await tempDir("app-spec");
    const spec = join(dir, "app.yaml");
    await writeFile(
      spec,
      [
        "name: exporter",
        "type: process",
        "scheduling:",
        "  selectors:",
        "    gpu: a100",
        "spec:",
        "  containers:",
        "    - name: server",
        "      command: exec sleep 600",
        "",
      ].join("\n"),
    );
    const created = await cli(["apps", "create", "-f", spec, "-o", "json"]);
    expect(created, created.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(created.stdout)).toMatchObject({
      name: "exporter",
      version: 1,
      scheduling: { type: "Conditional", selectors: { gpu: "a100" } },
    });
    expect((await cli(["apps", "list"])).stdout).toMatch(/^exporter\s+process\s+1\s+0\/0\s+-\s+active/m);
    expect((await cli(["apps", "status", "exporter"])).code).toBe(0);
    await writeFile(spec, (await readFile(spec, "utf8")).replace("sleep 600", "sleep 700"));
    const updated = await cli([
      "apps",
      "update",
      "exporter",
      "-f",
      spec,
      "--expected-version",
      "1",
      "-o",
      "json",
    ]);
    expect(JSON.parse(updated.stdout)).toMatchObject({ version: 2 });
    expect((await cli(["apps", "restart", "exporter"])).stdout).toContain("config version 2");
    const broken = join(dir, "broken.yaml");
    await writeFile(broken, "name: x\nspec:\n  containers: [\n");
    const bad = await cli(["apps", "create", "-f", broken]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/broken\.yaml:\d+:\d+: /);
    const refused = join(dir, "refused.yaml");
    await writeFile(
      refused,
      "name: y\nscheduling:\n  selector:\n    gpu: a100\nspec:\n  containers:\n    - name: a\n      command: x\n",
    );
    const wrong = await cli(["apps", "create", "-f", refused]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("use scheduling.selectors");
    expect((await cli(["apps", "delete", "exporter"])).stdout).toContain("being removed");
    expect((await cli(["apps", "get", "exporter"])).stderr).toContain("application exporter not found");
  }, 60_000);

  it("berth labs config set|get and quota set|get: the config from a file, a user's override and its reset", async () => {
    const dir = await tempDir("labs-config");
    const file = join(dir, "labs.yaml");
    expect((await cli(["profiles", "create", "small"])).code).toBe(0);
    const missing = await cli(["labs", "config", "get"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("labs are not set up");
    await writeFile(
      file,
      [
        "sizes: [small]",
        "defaultSize: small",
        "images:",
        "  recommended: ghcr.io/acme/lab:recommended",
        "",
      ].join("\n"),
    );
    const set = await cli(["labs", "config", "set", "-f", file, "-o", "json"]);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ revision: 1, port: 8888, defaultSize: "small" });
    expect(JSON.parse((await cli(["labs", "config", "get", "-o", "json"])).stdout)).toMatchObject({
      revision: 1,
    });
    const stale = await cli(["labs", "config", "set", "-f", file, "--expected-revision", "4"]);
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toContain("revision 1, not 4");
    const q = await cli(["labs", "quota", "set", "alice", "--gpus", "0", "--no-spawn", "-o", "json"]);
    expect(q.code, q.stderr).toBe(0);
    expect(JSON.parse(q.stdout)).toMatchObject({
      quota: { gpus: 0, spawn: false, cpu: 8 },
      override: { gpus: 0, spawn: false },
    });
    const reset = await cli(["labs", "quota", "set", "alice", "--reset", "-o", "json"]);
    expect(JSON.parse(reset.stdout)).toMatchObject({ quota: { gpus: 1, spawn: true }, override: {} });
    const bad = await cli(["labs", "quota", "set", "alice", "--gpus", "many"]);
    expect(bad.code).toBe(2);
  });
});
