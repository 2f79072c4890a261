import { existsSync, statSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type ServerProcess, startServerProcess, tempDir } from "../helpers/processes.ts";
import { isLoopback, listeningSockets } from "../helpers/sockets.ts";

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe("the local server (berth server)", () => {
  let dataDir: string;
  let server: ServerProcess;
  let admin: string;
  let member: { id: string; key: string };

  beforeAll(async () => {
    dataDir = await tempDir("e2e-server");
    server = await startServerProcess(dataDir);
  }, 90_000);
  afterAll(async () => {
    await server?.stop("SIGKILL");
  });

  it("prints its URL and the admin key once, and saves the key readable only by its owner", async () => {
    admin = (await readFile(join(dataDir, "admin-key"), "utf8")).trim();
    expect(admin).toMatch(/^berth_sk_/);
    expect(server.stderr()).toContain(admin);
    expect(server.stderr()).toContain(server.url);
    expect((await stat(join(dataDir, "admin-key"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, "berth.db"))).mode & 0o777).toBe(0o600);
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
  });

  it("listens on loopback only: the API on HOST, the embedded queue on 127.0.0.1, nothing else", async () => {
    const listeners = listeningSockets(server.child.pid!);
    if (!listeners) {
      console.warn("[server] /proc is not readable here: not checking listening sockets");
      return;
    }
    const port = Number(new URL(server.url).port);
    expect(listeners.map((l) => l.port)).toContain(port);
    // The API and the embedded SQS; no database port (SQLite is a file).
    expect(listeners).toHaveLength(2);
    for (const l of listeners) expect(isLoopback(l.address), `${l.address}:${l.port}`).toBe(true);
  });

  it("with --host 0.0.0.0, prints the loopback URL to use here and the machine's addresses for other machines", async () => {
    const dir = await tempDir("server-any");
    const any = await startServerProcess(dir, { HOST: "0.0.0.0" });
    try {
      expect(any.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const port = new URL(any.url).port;
      const addresses = Object.values(networkInterfaces())
        .flat()
        .filter((a) => a && !a.internal && a.family === "IPv4")
        .map((a) => a!.address);
      for (const address of addresses) expect(any.stderr()).toContain(`also at:   http://${address}:${port}`);
      expect(any.stderr()).not.toContain("http://0.0.0.0");
      expect((await readFile(join(dir, "endpoint"), "utf8")).trim()).toBe(any.url);
    } finally {
      await any.stop();
    }
  });

  it("serves /healthz", async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
  });

  it("creates a member key that gets 403 on an admin route, and 401 once revoked", async () => {
    const created = await fetch(`${server.url}/api/v1/api-keys`, {
      method: "POST",
      headers: { ...bearer(admin), "content-type": "application/json" },
      body: JSON.stringify({ name: "alice", role: "member" }),
    });
    expect(created.status).toBe(201);
    member = (await created.json()) as { id: string; key: string };

    const forbidden = await fetch(`${server.url}/api/v1/api-keys`, { headers: bearer(member.key) });
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { error: { code: string } }).error.code).toBe("Forbidden");

    const revoked = await fetch(`${server.url}/api/v1/api-keys/${member.id}`, {
      method: "DELETE",
      headers: bearer(admin),
    });
    expect(revoked.status).toBe(204);
    const after = await fetch(`${server.url}/api/v1/api-keys`, { headers: bearer(member.key) });
    expect(after.status).toBe(401);
  });

  it("stops cleanly on SIGTERM and keeps everything across a restart", async () => {
    expect(await server.stop("SIGTERM")).toBe(0);
    server = await startServerProcess(dataDir);
    expect(server.stderr()).not.toMatch(/admin key: berth_sk_/);

    expect((await fetch(`${server.url}/api/v1/api-keys`, { headers: bearer(admin) })).status).toBe(200);
    const res = await fetch(`${server.url}/api/v1/api-keys`, { headers: bearer(member.key) });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("revoked");
    const all = (await (
      await fetch(`${server.url}/api/v1/api-keys?includeRevoked=true`, { headers: bearer(admin) })
    ).json()) as { items: { id: string; revokedAt?: string }[] };
    expect(all.items.find((k) => k.id === member.id)?.revokedAt).toBeDefined();
  }, 90_000);

  describe("the CLI against it", () => {
    const cli = (args: string[], env: Record<string, string> = {}) =>
      runCli(["--endpoint", server.url, ...args], { BERTH_DATA_DIR: dataDir, ...env });

    it("finds the admin key in the data dir and lists keys as JSON", async () => {
      const { code, stdout } = await cli(["keys", "list", "-o", "json"]);
      expect(code).toBe(0);
      expect((JSON.parse(stdout) as { name: string }[]).map((k) => k.name)).toContain("admin");
    });

    it("creates a key, printing its secret once, and the new key works", async () => {
      const { code, stdout } = await cli([
        "keys",
        "create",
        "--name",
        "ci",
        "--role",
        "admin",
        "--expires-in",
        "1d",
        "-o",
        "json",
      ]);
      expect(code).toBe(0);
      const created = JSON.parse(stdout) as { key: string; expiresAt: string };
      expect(Date.parse(created.expiresAt)).toBeGreaterThan(Date.now());
      const table = await cli(["keys", "list"], { BERTH_API_KEY: created.key });
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^ID\s+NAME\s+ROLE/);
      expect(table.stdout).toContain("ci");
      expect(table.stdout).not.toContain(created.key);
    });

    it("prints one line and exits non-zero on an API error", async () => {
      const { code, stdout, stderr } = await cli(["keys", "revoke", "nope"]);
      expect(code).toBe(1);
      expect(stdout).toBe("");
      expect(stderr.trim()).toBe("error: api key nope not found (NotFound, HTTP 404)");
    });

    it("prints one line when the server is unreachable", async () => {
      const { code, stderr } = await runCli(["--endpoint", "http://127.0.0.1:9", "keys", "list"], {
        BERTH_DATA_DIR: dataDir,
      });
      expect(code).toBe(1);
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr).toContain("cannot reach Berth at http://127.0.0.1:9");
    });

    it("finds the server beside it: the data dir says which port it listens on (PORT=0 here)", async () => {
      // No --endpoint, no BERTH_ENDPOINT: the default (:8787) would be the wrong server.
      const { code, stdout } = await runCli(["keys", "list", "-o", "json"], { BERTH_DATA_DIR: dataDir });
      expect(code).toBe(0);
      expect((JSON.parse(stdout) as { name: string }[]).map((k) => k.name)).toContain("admin");
    });

    it("on a refused key, says where the key and the endpoint came from", async () => {
      const { code, stderr } = await runCli(["keys", "list"], {
        BERTH_DATA_DIR: dataDir,
        BERTH_API_KEY: "berth_sk_01m8sc4fcb54aj2rm0jtmvc2yj_notarealkeynotarealkeynotarealkey000000",
      });
      expect(code).toBe(1);
      expect(stderr).toContain("the API key came from BERTH_API_KEY");
      expect(stderr).toContain(`the endpoint ${server.url} from ${join(dataDir, "endpoint")}`);
    });

    it("berth login saves a checked endpoint and key as a named context, 0600; context list and use pick it", async () => {
      const dir = await tempDir("cli-config");
      const config = join(dir, "config.json");
      const env = { BERTH_CONFIG: config, BERTH_DATA_DIR: await tempDir("elsewhere") };
      const key = (await readFile(join(dataDir, "admin-key"), "utf8")).trim();
      const refused = await runCli(
        ["login", "--endpoint", server.url, "--api-key", `${key.slice(0, -2)}xx`],
        env,
      );
      expect(refused.code).toBe(1);
      expect(existsSync(config)).toBe(false); // a key the server refuses is not saved
      const ok = await runCli(["login", "--endpoint", server.url, "--api-key", key, "--name", "local"], env);
      expect(ok, ok.stderr).toMatchObject({ code: 0 });
      expect(statSync(config).mode & 0o777).toBe(0o600);
      // From another folder (no data dir with a key there): the context is what the CLI uses.
      expect((await runCli(["keys", "list"], env)).code).toBe(0);
      const me = await runCli(["whoami", "-o", "json"], env);
      expect(JSON.parse(me.stdout)).toMatchObject({
        name: "admin",
        role: "admin",
        workspaceId: "default",
        endpoint: server.url,
        keyFrom: `context local of ${config}`,
      });
      const listed = await runCli(["context", "list"], env);
      expect(listed.stdout).toMatch(/\*\s+local\s+http:\/\/127\.0\.0\.1:\d+/);
      const missing = await runCli(["context", "use", "prod"], env);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("no context prod; saved: local");
      expect((await runCli(["context", "use", "local"], env)).code).toBe(0);
    });

    it("says how to provide a key when it has none", async () => {
      const empty = await tempDir("no-key");
      const { code, stderr } = await runCli(["--endpoint", server.url, "keys", "list"], {
        BERTH_DATA_DIR: empty,
      });
      expect(code).toBe(1);
      expect(stderr).toContain("no API key");
    });

    it("refuses an unknown output format before calling the server", async () => {
      const { code, stderr } = await cli(["keys", "list", "-o", "yaml"]);
      expect(code).toBe(2);
      expect(stderr).toContain('--output must be "table" or "json"');
    });
  });
});

describe("the local server's data dir lock", () => {
  it("refuses a second server on the same data dir, and takes over after a SIGKILL", async () => {
    const dataDir = await tempDir("e2e-lock");
    const first = await startServerProcess(dataDir);
    try {
      await expect(startServerProcess(dataDir)).rejects.toThrow(/in use by process \d+/);
      expect(await first.stop("SIGKILL")).toBeNull();
      const second = await startServerProcess(dataDir);
      const admin = (await readFile(join(dataDir, "admin-key"), "utf8")).trim();
      const res = await fetch(`${second.url}/api/v1/api-keys`, { headers: bearer(admin) });
      expect(res.status).toBe(200);
      expect(await second.stop()).toBe(0);
    } finally {
      await first.stop("SIGKILL");
    }
  }, 90_000);
});
