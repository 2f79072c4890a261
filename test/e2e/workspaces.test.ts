import { describe, expect, inject, it } from "vitest";
import { onEngine } from "../helpers/engines.ts";
import { freshDatabase } from "../helpers/postgres.ts";
import { runCli, startServerProcess, tempDir } from "../helpers/processes.ts";

const keyIn = (stdout: string) => /(berth_sk_\S+)/.exec(stdout)?.[1];

describe("berth workspaces create", () => {
  it("creates a workspace in the local data dir whose admin key sees only its own workspace", async () => {
    const dataDir = await tempDir("e2e-ws");
    const created = await runCli(["--data-dir", dataDir, "workspaces", "create", "team-b"]);
    expect(created.code).toBe(0);
    const key = keyIn(created.stdout)!;
    expect(key).toBeDefined();

    const server = await startServerProcess(dataDir);
    try {
      const res = await fetch(`${server.url}/api/v1/api-keys`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(res.status).toBe(200);
      const ids = ((await res.json()) as { items: { id: string }[] }).items.map((k) => k.id);
      expect(ids).toEqual([key.slice(9, 35)]);
      // the default workspace was bootstrapped separately, with its own key
      expect(server.stderr()).toMatch(/admin key: berth_sk_/);
      const busy = await runCli(["--data-dir", dataDir, "workspaces", "create", "team-c"]);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain("stop the server first");
    } finally {
      await server.stop();
    }
  }, 90_000);

  it("refuses a name that is not a lower-case DNS label", async () => {
    const { code, stderr } = await runCli(["workspaces", "create", "Team_B"]);
    expect(code).toBe(2);
    expect(stderr).toContain("lower-case");
  });
});

onEngine("postgres", "berth workspaces create --database", () => {
  it("creates a workspace in a PostgreSQL database, refuses to create it twice, and reissues a key on request", async () => {
    const target = [
      "workspaces",
      "create",
      "acme",
      "--database",
      await freshDatabase(inject("postgres").url!),
    ];
    const first = await runCli(target);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("Created workspace acme");
    const again = await runCli(target);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(
      "error: workspace acme already exists; pass --new-admin-key to issue another admin key for it",
    );
    const reissued = await runCli([...target, "--new-admin-key"]);
    expect(reissued.code).toBe(0);
    expect(keyIn(reissued.stdout)).not.toBe(keyIn(first.stdout));
  }, 60_000);
});
