import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
// @ts-expect-error dynalite ships no types (a devDependency: the 0.1 format, for this test and migration).
import dynalite from "dynalite";
import { describe, expect, it } from "vitest";
import { createTableInput } from "../../shared/adapters/dynamo/table.ts";
import { hashToken, newToken } from "../../shared/domain/tokens.ts";
import { adminKeyOf, apiClient, runCli, startServerProcess, tempDir } from "../helpers/processes.ts";

describe("berth server export and import", () => {
  it("round-trips a whole database: keys, tokens and the root secret keep working", async () => {
    const from = await tempDir("e2e-export");
    const server = await startServerProcess(from);
    const admin = await adminKeyOf(from);
    const api = apiClient(
      () => server.url,
      () => admin,
    );
    const token = await api<{ id: string }>("POST", "/registration-tokens", {
      name: "kept",
      maxRegistrations: 3,
    });
    expect(await server.stop()).toBe(0);

    const file = join(await tempDir("e2e-export-file"), "backup.jsonl");
    const exported = await runCli(["--data-dir", from, "server", "export", file]);
    expect(exported.code).toBe(0);
    expect(exported.stderr).toMatch(/exported \d+ items/);
    const lines = (await readFile(file, "utf8")).trim().split("\n");
    expect(JSON.parse(lines[0]!)).toMatchObject({ format: "berth-export", version: 1 });

    const to = await tempDir("e2e-import");
    const imported = await runCli(["--data-dir", to, "server", "import", file]);
    expect(imported.code).toBe(0);
    expect(imported.stderr).toContain(`imported ${lines.length - 1} items`);
    // Into a database that has data: refused unless forced.
    const again = await runCli(["--data-dir", to, "server", "import", file]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already has data");

    const restored = await startServerProcess(to);
    try {
      const onRestored = apiClient(
        () => restored.url,
        () => admin,
      );
      expect(
        (
          await onRestored<{ id: string; maxRegistrations: number }>(
            "GET",
            `/registration-tokens/${token.id}`,
          )
        ).maxRegistrations,
      ).toBe(3);
      // The restored server did not bootstrap a new workspace: the backup's admin key is the admin key.
      expect(restored.stderr()).not.toMatch(/admin key: berth_sk_/);
    } finally {
      await restored.stop();
    }
  }, 90_000);

  it("refuses a file that is not an export, naming the line, and writes nothing", async () => {
    const dir = await tempDir("e2e-import-bad");
    const file = join(dir, "bad.jsonl");
    await writeFile(
      file,
      '{"format":"berth-export","version":1,"exportedAt":"x"}\n{"pk":"A","sk":"B"}\nnot json\n',
    );
    const res = await runCli(["--data-dir", dir, "server", "import", file]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe(`error: ${file} line 3 is not JSON`);
    const other = join(dir, "other.jsonl");
    await writeFile(other, '{"hello":1}\n');
    const wrong = await runCli(["--data-dir", dir, "server", "import", other]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("is not a Berth export");
  });
});

describe("a data dir made by Berth 0.1 (dynalite)", () => {
  /** Writes a 0.1 table the way that version did: one workspace, its admin key, a device, its feed head. */
  async function oldDataDir() {
    const dir = await tempDir("e2e-v1");
    const server: import("node:http").Server = dynalite({ path: join(dir, "dynamo"), createTableMs: 0 });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const { port } = server.address() as { port: number };
    const client = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: "us-east-1",
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
    });
    const doc = DynamoDBDocumentClient.from(client);
    await client.send(new CreateTableCommand(createTableInput("berth")));
    // dynalite makes a table ACTIVE on a timer (even with createTableMs 0): a put before that is refused.
    await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: "berth" });
    const keyId = "01jabcdefghjkmnpqrstvwxyz0";
    const admin = newToken("apiKey", keyId);
    const at = "2026-11-01T00:00:00.000Z";
    const deviceId = "01jdevice0000000000000000a";
    for (const item of [
      { pk: "WS#default", sk: "WS", id: "default", createdAt: at },
      {
        pk: `APIKEY#${keyId}`,
        sk: "APIKEY",
        gsi1pk: "WS#default#APIKEYS",
        gsi1sk: keyId,
        id: keyId,
        workspaceId: "default",
        name: "admin",
        role: "admin",
        tokenHash: hashToken(admin),
        createdAt: at,
      },
      {
        pk: `DEVICE#${deviceId}`,
        sk: "DEVICE",
        gsi1pk: "WS#default#DEVICES",
        gsi1sk: deviceId,
        id: deviceId,
        name: "old-node",
        workspaceId: "default",
        nodeGroup: "default",
        registrationTokenId: "01jtoken00000000000000000a",
        labels: {},
        environmentVariables: {},
        info: { cpu: {}, gpus: [] },
        resources: { gpus: 0 },
        gpuOwners: {},
        sessionGeneration: 1,
        sessionTokenHash: "ab".repeat(32),
        machineInfo: { hostname: "old-node" },
        lastSeenAt: "2026-11-01T00:05:00.000Z",
        createdAt: at,
        updatedAt: at,
      },
      { pk: `DEVICE#${deviceId}`, sk: "FEED", seq: 3, removals: new Set(["01jres0000000000000000000a"]) },
    ])
      await doc.send(new PutCommand({ TableName: "berth", Item: item }));
    client.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await writeFile(join(dir, "admin-key"), `${admin}\n`, { mode: 0o600 });
    return { dir, admin, deviceId };
  }

  it("is not started empty: the server says how to move it, and export --from-dynalite + import move it", async () => {
    const { dir, admin, deviceId } = await oldDataDir();
    const refused = await runCli(["server"], { BERTH_DATA_DIR: dir, PORT: "0" });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("was made by an earlier Berth");
    expect(refused.stderr).toContain(`berth server export --from-dynalite ${dir}/dynamo`);

    const file = join(await tempDir("e2e-v1-file"), "v1.jsonl");
    const exported = await runCli(["server", "export", "--from-dynalite", join(dir, "dynamo"), file]);
    expect(exported.code).toBe(0);
    // The device's presence, machine info and feed head moved to items of their own.
    const items = (await readFile(file, "utf8"))
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => JSON.parse(l) as { pk: string; sk: string });
    expect(items.map((i) => `${i.pk}/${i.sk}`)).toEqual(
      expect.arrayContaining([
        `DEVICE#${deviceId}/SEEN`,
        `DEVICE#${deviceId}/MACHINEINFO`,
        `FEED#${deviceId}/HEAD`,
      ]),
    );
    expect((await runCli(["--data-dir", dir, "server", "import", file])).code).toBe(0);

    const server = await startServerProcess(dir);
    try {
      const api = apiClient(
        () => server.url,
        () => admin,
      );
      const device = await api<{ name: string; lastSeenAt: string }>("GET", `/devices/${deviceId}`);
      expect(device).toMatchObject({ name: "old-node", lastSeenAt: "2026-11-01T00:05:00.000Z" });
    } finally {
      await server.stop();
    }
  }, 90_000);
});
