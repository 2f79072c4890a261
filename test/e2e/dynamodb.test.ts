import { afterAll, beforeAll, expect, it } from "vitest";
import { sharedDynamoDbLocal } from "../helpers/dynamodb-local.ts";
import { onEngine } from "../helpers/engines.ts";
import { HttpAgent } from "../helpers/http-agent.ts";
import {
  adminKeyOf,
  apiClient,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

onEngine("dynamodb", "berth server on a DynamoDB endpoint", () => {
  let server: ServerProcess;
  let agent: HttpAgent | undefined;
  let env: Record<string, string>;
  let dataDir: string;
  beforeAll(async () => {
    const { endpoint } = await sharedDynamoDbLocal();
    env = {
      BERTH_DYNAMODB_ENDPOINT: endpoint,
      BERTH_TABLE_NAME: `e2e-${Date.now()}`,
      AWS_ACCESS_KEY_ID: "berthlocal",
      AWS_SECRET_ACCESS_KEY: "berthlocal",
      AWS_REGION: "us-east-1",
    };
    dataDir = await tempDir("e2e-ddb");
    server = await startServerProcess(dataDir, env);
  }, 120_000);
  afterAll(async () => {
    await agent?.stop();
    await server?.stop("SIGKILL");
  });

  it("creates its table, serves the API, and delivers a reservation to a long-polling agent", async () => {
    expect(server.stderr()).toContain("storage:   dynamodb");
    const admin = await adminKeyOf(dataDir);
    const api = apiClient(
      () => server.url,
      () => admin,
    );
    const { token } = await api<{ token: string }>("POST", "/registration-tokens", { name: "ddb" });
    agent = await HttpAgent.register(server.url, token);
    agent.start(20);
    await until(() => agent!.polls >= 1);
    const r = await api<{ id: string }>("POST", "/reservations", {
      nodeId: agent.deviceId,
      type: "debug",
      data: {},
      duration: 600,
    });
    await until(() => agent!.deliveries.get(r.id) === 1, 20_000);
    // The operator command reaches the same table.
    const created = await runCli(["workspaces", "create", "acme"], env);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("Created workspace acme");
  }, 60_000);
});
