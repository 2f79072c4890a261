import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type ServerProcess, startServerProcess, tempDir } from "../helpers/processes.ts";

describe("berth apps against a real server", () => {
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
});
