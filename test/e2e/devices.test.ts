import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gpudLoginBody } from "../helpers/fleet.ts";
import { runCli, type ServerProcess, startServerProcess, tempDir } from "../helpers/processes.ts";

describe("adding a machine through the real server and the CLI", () => {
  let dataDir: string;
  let server: ServerProcess;
  let token: string;
  let machineID: string;
  let session: string;
  const cli = (args: string[]) => runCli(["--endpoint", server.url, ...args], { BERTH_DATA_DIR: dataDir });

  beforeAll(async () => {
    dataDir = await tempDir("e2e-devices");
    server = await startServerProcess(dataDir);
  }, 90_000);
  afterAll(async () => {
    await server?.stop("SIGKILL");
  });

  it("creates a token and prints it once with a ready-to-paste agent command line", async () => {
    const { code, stdout } = await cli([
      "tokens",
      "create",
      "--name",
      "rack-4",
      "--label",
      "rack=r4",
      "--max-registrations",
      "2",
    ]);
    expect(code).toBe(0);
    token = /(berth_rt_\S+)/.exec(stdout)![1]!;
    expect(stdout).toContain(`curl -fsSL ${server.url}/install.sh | sudo BERTH_TOKEN=${token} sh`);
    expect(stdout).toContain(`BERTH_TOKEN=${token} berth agent --endpoint ${server.url}`);
    expect(stdout).toContain(`gpud up --endpoint ${server.url.replace("http://", "")} --token ${token}`);
    const listed = await cli(["tokens", "list"]);
    expect(listed.stdout).toContain("rack-4");
    expect(listed.stdout).toContain("0/2");
    expect(listed.stdout).not.toContain(token);
  });

  it("logs a machine in with GPUd's request", async () => {
    const res = await fetch(`${server.url}/api/v1/login`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}`, origin: "gpu-node-1" },
      body: JSON.stringify(gpudLoginBody(token, { nodeLabels: { gpu: "h100" } })),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { machineID: string; token: string };
    machineID = body.machineID;
    session = body.token;
  });

  it("lists it, filtered by label, as a table and as JSON", async () => {
    const table = await cli(["devices", "list", "--label", "gpu=h100"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(
      /^ID\s+NAME\s+GROUP\s+STATUS\s+GPUS\s+HEALTH\s+LABELS\s+LAST SEEN\s+PROTOCOL/,
    );
    // GPUd names no protocol: it is a protocol 1 agent, which an operator raising the minimum must upgrade
    expect(table.stdout.split("\n").find((l) => l.startsWith(machineID))).toMatch(/\s1$/);
    expect(table.stdout).toContain(machineID);
    expect(table.stdout).toContain("online");
    expect(table.stdout).toContain("0/8");
    const none = await cli(["devices", "list", "--label", "gpu=a100", "-o", "json"]);
    expect(JSON.parse(none.stdout)).toEqual([]);
  });

  it("relabels (set and remove) and renames it", async () => {
    const labelled = await cli(["devices", "label", machineID, "team=vision", "rack-", "-o", "json"]);
    expect(labelled.code).toBe(0);
    expect(JSON.parse(labelled.stdout).labels).toEqual({ gpu: "h100", team: "vision" });
    const renamed = await cli(["devices", "rename", machineID, "box-1"]);
    expect(renamed.code).toBe(0);
    const got = JSON.parse((await cli(["devices", "get", machineID, "-o", "json"])).stdout);
    expect(got).toMatchObject({ name: "box-1", labels: { gpu: "h100", team: "vision" } });
  });

  it("refuses an invalid label with the API's message", async () => {
    const { code, stderr } = await cli(["devices", "label", machineID, "bad/key=x"]);
    expect(code).toBe(1);
    expect(stderr).toContain("may only use the prefix");
  });

  it("cordons, drains, uncordons and moves it, as a table and as JSON", async () => {
    const cordoned = JSON.parse((await cli(["devices", "cordon", machineID, "-o", "json"])).stdout);
    expect(cordoned).toEqual({ id: machineID, scheduling: "cordoned" });
    expect((await cli(["devices", "list"])).stdout).toMatch(/online,cordoned/);
    const drained = JSON.parse(
      (await cli(["devices", "drain", machineID, "--deadline", "30m", "-o", "json"])).stdout,
    );
    // Nothing runs on it: the drain is over at once, and it stays cordoned.
    expect(drained).toMatchObject({ id: machineID, scheduling: "cordoned", jobs: 0 });
    const bad = await cli(["devices", "drain", machineID, "--deadline", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--deadline: "soon" is not a duration');
    const back = JSON.parse((await cli(["devices", "uncordon", machineID, "-o", "json"])).stdout);
    expect(back).toEqual({ id: machineID, scheduling: "eligible" });
    const unknown = await cli(["devices", "move", machineID, "nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no node group named nope");
    expect((await cli(["node-groups", "create", "racks"])).code).toBe(0);
    const moved = JSON.parse((await cli(["devices", "move", machineID, "racks", "-o", "json"])).stdout);
    expect(moved).toEqual({ id: machineID, nodeGroup: "racks" });
    expect((await cli(["node-groups", "list"])).stdout).toMatch(/racks\s+1/);
    expect((await cli(["devices", "move", machineID, "default"])).code).toBe(0);
  });

  it("deletes it, after which its session is rejected", async () => {
    const deleted = await cli(["devices", "delete", machineID]);
    expect(deleted.code).toBe(0);
    const res = await fetch(`${server.url}/api/v1/agent/heartbeat`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${session}` },
      body: "{}",
    });
    expect(res.status).toBe(401);
    const tokens = JSON.parse((await cli(["tokens", "list", "-o", "json"])).stdout) as {
      deviceCount: number;
    }[];
    expect(tokens[0]!.deviceCount).toBe(0);
  });

  it("manages node groups", async () => {
    expect((await cli(["node-groups", "create", "training", "--label", "tier=gold"])).code).toBe(0);
    const list = await cli(["node-groups", "list"]);
    expect(list.stdout).toMatch(/default/);
    expect(list.stdout).toMatch(/training\s+0\s+tier=gold/);
    const refused = await cli(["node-groups", "delete", "default"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("cannot be deleted");
    expect((await cli(["node-groups", "delete", "training"])).code).toBe(0);
    expect((await readFile(join(dataDir, "admin-key"), "utf8")).trim()).toMatch(/^berth_sk_/);
  });
});
