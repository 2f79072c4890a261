import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allBytes } from "../helpers/files.ts";
import { runCli, type ServerProcess, startServerProcess, tempDir } from "../helpers/processes.ts";

describe("berth secrets against a real server", () => {
  let server: ServerProcess;
  let dataDir: string;
  const cli = (args: string[]) => runCli(["--endpoint", server.url, ...args], { BERTH_DATA_DIR: dataDir });
  beforeAll(async () => {
    dataDir = await tempDir("e2e-secrets");
    server = await startServerProcess(dataDir);
  }, 60_000);
  afterAll(() => server?.stop());

  it("creates from a file or a literal, lists and shows metadata only, updates with a version guard, deletes", async () => {
    const file = join(await tempDir("secret-file"), "db.json");
    await writeFile(file, '{"password":"pg-Secret-Value-42"}');
    const db = await cli(["secrets", "create", "db", "--type", "File", "--from-file", file, "-o", "json"]);
    expect(db, db.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(db.stdout)).toMatchObject({ name: "db", type: "File", version: 1, sizeBytes: 33 });
    const hf = await cli([
      "secrets",
      "create",
      "hf",
      "--type",
      "Environment",
      "--from-literal",
      "hf_Literal_Token_77",
    ]);
    expect(hf.code).toBe(0);
    expect(hf.stderr).toContain("--from-literal puts the value in your shell's history");
    const listed = await cli(["secrets", "list"]);
    expect(listed.stdout).toMatch(/NAME\s+TYPE\s+VERSION\s+FINGERPRINT/);
    expect(listed.stdout).toMatch(/db\s+File\s+1\s+[0-9a-f]{16}/);
    expect((await cli(["secrets", "list", "--type", "Environment"])).stdout).not.toMatch(/^db\s/m);
    const shown = await cli(["secrets", "get", "hf", "-o", "json"]);
    expect(shown.stdout).not.toContain("hf_Literal_Token_77");
    await writeFile(file, '{"password":"rotated-Value-43"}');
    const updated = await cli([
      "secrets",
      "update",
      "db",
      "--from-file",
      file,
      "--expected-version",
      "1",
      "-o",
      "json",
    ]);
    expect(JSON.parse(updated.stdout)).toMatchObject({ version: 2 });
    const stale = await cli(["secrets", "update", "db", "--from-file", file, "--expected-version", "1"]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain("secret db changed since version 1 (now 2)");
    const wrongType = await cli(["secrets", "create", "x", "--type", "Secretish", "--from-literal", "v"]);
    expect(wrongType.code).toBe(1);
    expect(wrongType.stderr).toContain("type must be Environment or File");
    // Nothing in the server's data dir holds a value in clear.
    const stored = await allBytes(dataDir);
    for (const value of ["pg-Secret-Value-42", "rotated-Value-43", "hf_Literal_Token_77"])
      expect(stored).not.toContain(value);
    const deleted = await cli(["secrets", "delete", "db"]);
    expect(deleted.stdout).toContain("secret db deleted");
    expect((await cli(["secrets", "get", "db"])).stderr).toContain(
      "secret db not found in namespace default",
    );
  }, 60_000);

  it("manages namespaces: secrets in them, registry credentials, references, a cascade delete; the secret quota", async () => {
    expect((await cli(["namespaces", "create", "team-a", "--description", "A's"])).code).toBe(0);
    const secret = await cli([
      "secrets",
      "create",
      "ghcr",
      "-n",
      "team-a",
      "--type",
      "Environment",
      "--from-literal",
      "ghp_x",
    ]);
    expect(secret, secret.stderr).toMatchObject({ code: 0 });
    const auth = await cli([
      "namespaces",
      "update",
      "team-a",
      "--registry-server",
      "ghcr.io",
      "--registry-user",
      "bot",
      "--registry-secret",
      "ghcr",
    ]);
    expect(auth, auth.stderr).toMatchObject({ code: 0 });
    const listed = await cli(["namespaces", "list"]);
    expect(listed.stdout).toMatch(/NAME\s+STATUS\s+SECRETS\s+APPLICATIONS\s+REGISTRY/);
    expect(listed.stdout).toMatch(/^default\s+active\s+\d+/m);
    expect(listed.stdout).toMatch(/^team-a\s+active\s+1\s+0\s+ghcr\.io/m);
    const refs = await cli(["secrets", "references", "ghcr", "-n", "team-a"]);
    expect(refs.stdout).toMatch(/^namespace\s+team-a/m);
    const inUse = await cli(["secrets", "delete", "ghcr", "-n", "team-a"]);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toContain("secret ghcr is in use by namespace team-a");
    const half = await cli(["namespaces", "update", "team-a", "--registry-server", "ghcr.io"]);
    expect(half).toMatchObject({ code: 2 });
    expect(half.stderr).toContain("--registry-server, --registry-user and --registry-secret together");
    const deleted = await cli(["namespaces", "delete", "team-a", "--wait"]);
    expect(deleted, deleted.stderr).toMatchObject({ code: 0, stdout: "namespace team-a deleted\n" });
    expect((await cli(["secrets", "list", "-n", "team-a"])).stderr).toContain("namespace team-a not found");
    expect((await cli(["namespaces", "delete", "default"])).stderr).toContain(
      "the default namespace cannot be deleted",
    );
    // The secret quota: its use and limit, shown and set.
    const limited = await cli(["quotas", "set", "--max-secrets", "2"]);
    expect(limited.stdout).toMatch(/secrets:?\s+1 of 2/);
    await cli(["secrets", "create", "two", "--type", "Environment", "--from-literal", "v2"]);
    const over = await cli(["secrets", "create", "three", "--type", "Environment", "--from-literal", "v3"]);
    expect(over.code).toBe(1);
    expect(over.stderr).toContain("maxSecrets is 2 and the workspace holds 2 secrets");
    expect((await cli(["quotas", "set", "--max-secrets", "none"])).stdout).toMatch(/secrets:?\s+2 of 1000/);
  }, 60_000);
});
