import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seal, sealedAad } from "../../shared/domain/sealed.ts";
import { publicKeyToBase64 } from "../../shared/domain/signing.ts";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { allBytes } from "../helpers/files.ts";
import {
  adminKeyOf,
  apiClient,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

const HF = "hf_Agent_Secret_Value_31337";
const DB = '{"password":"Db-Secret-Value-271828"}';
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

interface Job {
  id: string;
  status: string;
  exitCode?: number;
}

/** A real agent runs a job with secrets sealed to it (specs/secrets.md §3, §5). */
describe("secrets delivered to a real agent", () => {
  let server: ServerProcess;
  let agent: AgentProcess;
  let dataDir: string;
  let agentDir: string;
  let secretsRoot: string;
  let admin: string;
  const api = apiClient(
    () => server.url,
    () => admin,
  );
  beforeAll(async () => {
    dataDir = await tempDir("e2e-secrets-agent");
    server = await startServerProcess(dataDir);
    admin = await adminKeyOf(dataDir);
    const { token } = await api<{ token: string }>("POST", "/registration-tokens", { name: "secrets" });
    agentDir = await mkdtemp(join(tmpdir(), "berth-agent-"));
    // On a tmpfs, as the agent insists.
    secretsRoot = await mkdtemp("/dev/shm/berth-test-secrets-");
    agent = startAgentProcess(["--endpoint", server.url, "--data-dir", agentDir, "--runtime", "process"], {
      BERTH_TOKEN: token,
      BERTH_AGENT_SECRETS_ROOT: secretsRoot,
    });
    await until(async () => (await api<{ items: unknown[] }>("GET", "/devices")).items.length > 0, 30_000);
    await api("POST", "/namespaces/default/secrets", { name: "hf", type: "Environment", data: HF });
    await api("POST", "/namespaces/default/secrets", { name: "db", type: "File", data: DB });
  }, 60_000);
  afterAll(async () => {
    await agent?.stop("SIGKILL");
    await server?.stop();
    await rm(secretsRoot, { recursive: true, force: true });
  });

  it("gives the program its env value and its file under $BERTH_SECRETS_DIR; the plaintext is nowhere else", async () => {
    const check = [
      `[ "$(printf %s "$HF_TOKEN" | sha256sum | cut -c1-64)" = ${sha(HF)} ]`,
      `[ "$(sha256sum < "$BERTH_SECRETS_DIR/db.json" | cut -c1-64)" = ${sha(DB)} ]`,
      `[ "$(stat -c %a "$BERTH_SECRETS_DIR/db.json")" = 400 ]`,
      `echo "secrets ok in $BERTH_SECRETS_DIR"`,
      // A program that prints its secret: the output shows *** instead.
      `echo "token: $HF_TOKEN"`,
    ].join(" && ");
    const job = await api<Job>("POST", "/jobs", {
      exe: "sh",
      args: ["-c", check],
      secrets: [
        { name: "hf", env: "HF_TOKEN" },
        { name: "db", path: "db.json" },
      ],
    });
    await until(async () => (await api<Job>("GET", `/jobs/${job.id}`)).status === "Finished", 60_000);
    const done = await api<Job>("GET", `/jobs/${job.id}`);
    const output = await api<{ output: { data: string }[] }>("GET", `/jobs/${job.id}/output?stream=mixed`);
    expect(done.exitCode, JSON.stringify(output)).toBe(0);
    const printed = output.output.map((l) => l.data).join("");
    expect(printed).toContain(`secrets ok in ${secretsRoot}/secrets/`);
    expect(printed).toContain("token: ***\n");
    // Once the job's reservation is removed, its secret files go, and so does its captured output (shipped
    // masked; the files hold it as printed).
    await until(
      async () => (await readdir(join(secretsRoot, "secrets")).catch(() => [])).length === 0,
      60_000,
    );
    await until(async () => !(await allBytes(agentDir)).includes(HF), 60_000);
    // Nowhere in clear: the server's data dir (its database), the agent's data dir, the logs, any answer.
    const everywhere = [
      await allBytes(dataDir),
      await allBytes(agentDir),
      server.stderr(),
      agent.stderr(),
      JSON.stringify(await api("GET", `/jobs/${job.id}`)),
      JSON.stringify(await api("GET", `/jobs/${job.id}/events?follow=false`)),
      JSON.stringify(await api("GET", "/reservations")),
    ].join("\n");
    for (const value of [HF, DB, "Db-Secret-Value-271828"]) expect(everywhere).not.toContain(value);
  }, 90_000);

  it("refuses a value sealed to another node: an error result, and nothing runs", async () => {
    const device = (await api<{ items: { id: string }[] }>("GET", "/devices")).items[0]!.id;
    const elsewhere = generateKeyPairSync("x25519");
    const marker = join(agentDir, "ran");
    // The reservation id is made by the server: sealed for a made-up one, it cannot open here either way.
    const sealed = seal(
      publicKeyToBase64(elsewhere.publicKey),
      Buffer.from("v"),
      sealedAad(device, "any", "env:X"),
    );
    const r = await api<{ id: string }>("POST", "/reservations", {
      nodeId: device,
      type: "process",
      duration: 600,
      data: { argv: ["touch", marker], secretEnv: { X: sealed } },
    });
    let state = "";
    let error = "";
    await until(async () => {
      const got = await api<{ state: string; result?: { error?: string } }>("GET", `/reservations/${r.id}`);
      state = got.state;
      error = got.result?.error ?? "";
      return state === "error";
    }, 30_000);
    expect(error).toBe("cannot decrypt the secret for env X (sealed to another key?)");
    expect(await readFile(marker).catch(() => "absent")).toBe("absent");
  }, 60_000);
});
