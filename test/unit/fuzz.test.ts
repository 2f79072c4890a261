import { once } from "node:events";
import type { Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { serve } from "@hono/node-server";
import { describe, expect, it } from "vitest";
import { answerClientErrors } from "../../hosts/client-errors.ts";
import { silentLogger } from "../../shared/adapters/logger.ts";
import { sqliteStore } from "../../shared/adapters/sqlite/sqlite-store.ts";
import { signResult } from "../../shared/domain/signing.ts";
import type { Logger } from "../../shared/ports/logger.ts";
import { registerAgent, reserve } from "../helpers/agents.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { snapshot } from "../helpers/db.ts";
import { withDynamoLimits } from "../helpers/dynamo-limits.ts";
import { createToken, gpudLoginBody } from "../helpers/fleet.ts";
import {
  Deep,
  edgePathValue,
  edgeQueryValue,
  mutateBody,
  type OpenApiDoc,
  type Operation,
  operationsOf,
  PROTO,
  prng,
  type Rng,
  resolver,
  toJson,
  validValue,
} from "../helpers/fuzz.ts";
import { submit } from "../helpers/jobs.ts";

/**
 * Requests generated from the app's own OpenAPI document: for every operation, bodies with one thing wrong
 * (types, missing fields, strings and numbers at and past their bounds, deep nesting, prototype keys,
 * unknown fields), odd path and query values, malformed JSON, other content types, no credentials; plus
 * valid requests, so that state builds up. On an in-memory SQLite held to DynamoDB's limits (a write that
 * DynamoDB would refuse is a 500 here too). A refusal must commit no write (the store counts the writes that
 * take effect; the focused tests below compare whole snapshots). Seeded: BERTH_FUZZ_SEED reruns a failure,
 * BERTH_FUZZ_CASES sets the cases per operation (80: about 3,700 requests).
 */
const SEED = Number(process.env.BERTH_FUZZ_SEED ?? 20261201);
const CASES = Number(process.env.BERTH_FUZZ_CASES ?? 80);

interface Fixture {
  t: TestApp;
  store: ReturnType<typeof withDynamoLimits>;
  doc: OpenApiDoc;
  session: string;
  /** Signs a result body as the agent would (so that bad results get past the signature check). */
  sign: (body: unknown) => unknown;
  loginToken: string;
  ids: Record<string, string>;
  errors: string[];
}

async function fixture(): Promise<Fixture> {
  const errors: string[] = [];
  const logger: Logger = {
    ...silentLogger,
    warn: (msg, f) => {
      if (msg === "background task failed") errors.push(`${msg}: ${JSON.stringify(f)}`);
    },
    error: (msg, f) => errors.push(`${msg}: ${String(f?.error)}`),
  };
  const store = withDynamoLimits(sqliteStore(":memory:"));
  const t = await testApp({ store, logger, config: { pollWaitCapSeconds: 0 } });
  const doc = (await (await t.call("GET", "/api/v1/openapi.json")).json()) as OpenApiDoc;
  const agent = await registerAgent(t);
  const victim = await registerAgent(t);
  const loginToken = (await createToken(t, { name: "fuzz-logins" })).token;
  const victimToken = await createToken(t, { name: "fuzz-victim" });
  const reservation = await reserve(t, agent.deviceId);
  const key = (await (
    await t.call("POST", "/api/v1/api-keys", { token: t.admin, body: { name: "victim" } })
  ).json()) as { id: string };
  await t.call("POST", "/api/v1/node-groups", { token: t.admin, body: { name: "fuzz-victim" } });
  await t.call("POST", "/api/v1/profiles", { token: t.admin, body: { name: "fuzz-victim" } });
  const job = await submit(t, { exe: "true" });
  return {
    t,
    store,
    doc,
    session: agent.session,
    sign: (body) => {
      if (typeof body !== "object" || body === null || Array.isArray(body)) return body;
      const b = body as Record<string, unknown>;
      const fields = [b.id, b.state, b.error ?? "", b.data ?? "{}"];
      if (!fields.every((x) => typeof x === "string")) return body;
      const [id, state, error, data] = fields as string[];
      return {
        ...b,
        signature: signResult(
          { id: id!, state: state as "ok", error: error!, data: data! },
          agent.privateKey,
        ),
      };
    },
    loginToken,
    errors,
    ids: {
      agent: agent.deviceId,
      "api-keys": key.id,
      "registration-tokens": victimToken.id,
      "node-groups": "fuzz-victim",
      devices: victim.deviceId,
      reservations: reservation.id,
      "agent/reservations": reservation.id,
      jobs: job.body.id,
      profiles: "fuzz-victim",
    },
  };
}

/** A valid body for each operation that takes one (the document's schemas do not carry every rule). */
function seedBody(f: Fixture, op: Operation, rng: Rng): unknown {
  const res = f.ids.reservations;
  switch (`${op.method} ${op.path.replace("/api/v1", "")}`) {
    case "POST /api-keys":
      return { name: "fuzz", role: rng.pick(["member", "admin"]) };
    case "POST /registration-tokens":
      return { name: "fuzz", labels: { gpu: "a100" }, environmentVariables: { A: "1" }, maxRegistrations: 5 };
    case "PATCH /registration-tokens/{id}":
      return { description: "d", environmentVariables: { B: "2" }, labels: { rack: "r1" } };
    case "POST /node-groups":
      return { name: `fuzz-${rng.int(1000)}`, description: "d", labels: { rack: "r1" } };
    case "PATCH /node-groups/{name}":
      return { description: "x", labels: { a: "b" } };
    case "PATCH /devices/{id}":
      return { name: "n", labels: { a: "b" } };
    case "POST /login":
      return gpudLoginBody(f.loginToken, { nodeLabels: { zone: "z1" } });
    case "POST /reservations": {
      const type = rng.pick(["process", "container", "volume", "prepull", "debug"]);
      const data = {
        process: { argv: ["echo", "hi"], env: { A: "1" }, stdin: "x", gpus: [0] },
        container: {
          image: "alpine",
          command: ["sh"],
          env: { A: "1" },
          mounts: [{ source: "/a", target: "/b" }],
          ports: [{ containerPort: 80 }],
        },
        volume: { name: "vol-1", sizeGiB: 10 },
        prepull: { image: "alpine" },
        debug: { hello: "world", n: 1 },
      }[type];
      return { nodeId: f.ids.agent, type, data, duration: 60 };
    }
    case "POST /agent/heartbeat":
      return { machineInfo: gpudLoginBody("").machineInfo, agentVersion: "1.0.0" };
    case "PUT /agent/reservations/{id}/result":
      return {
        id: res,
        type: "debug",
        created: new Date().toISOString(),
        state: "ok",
        error: "",
        data: "{}",
        signature: "c2ln",
      };
    case "POST /agent/reservations/{id}/status":
      return { state: "running", pid: 42 };
    case "POST /agent/reservations/{id}/output":
      return rng.chance(0.5)
        ? { stream: "stdout", seq: 1 + rng.int(5), data: "hi\n" }
        : { chunks: [{ stream: "stderr", seq: 1 + rng.int(5), data: "oops" }] };
    case "POST /jobs":
      return rng.chance(0.5)
        ? {
            command: "echo hi",
            args: ["a"],
            environment: ["A=1", { name: "B", value: "2" }],
            stdin: "in",
            tags: ["t"],
            metadata: { a: 1, b: { c: [1] } },
          }
        : {
            exe: "/bin/true",
            container: { image: "alpine", runAsUserId: 1000 },
            mounts: ["/data:/data:ro"],
            exposedPorts: ["8080:80/tcp"],
            gpus: { count: 0 },
            config: [{ name: "a", value: "b" }],
          };
    case "POST /jobs/{id}/control":
      return { operation: rng.pick(["suspend", "resume", "stop", "kill", "cancel"]) };
    case "POST /profiles":
      return {
        name: `fuzz-p${rng.int(1000)}`,
        displayName: "P",
        limits: [{ type: "cpu", value: "2" }],
        gpus: { count: 1 },
        queue: "q",
        placementConstraints: [{ name: "a", value: "b" }],
      };
    case "PATCH /profiles/{name}":
      return { queue: "q2", displayName: "Q" };
    case "PUT /quotas":
      return { maxGpus: 100, maxRunningJobs: 50 };
    default:
      return validValue(op.body, resolver(f.doc), rng);
  }
}

/** The fixture object a path's `{id}`/`{name}` most plausibly names. */
function realId(f: Fixture, path: string): string {
  const rest = path.replace("/api/v1/", "");
  const kind = Object.keys(f.ids)
    .sort((a, b) => b.length - a.length)
    .find((k) => rest.startsWith(`${k}/`));
  return kind ? f.ids[kind]! : "none";
}

interface Case {
  op: Operation;
  kind: string;
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** What a case gets wrong: its path ids, its query, its raw body, its body's content, or its credentials. */
function pickKind(rng: Rng, hasParams: boolean, hasQuery: boolean) {
  const r = rng.next();
  if (r < 0.2) return hasParams ? "path" : "body";
  if (r < 0.35 && hasQuery) return "query";
  if (r < 0.45) return "raw";
  if (r < 0.55) return "valid";
  if (r < 0.6) return "auth";
  return "body";
}

function buildCase(f: Fixture, op: Operation, rng: Rng): Case {
  const resolve = resolver(f.doc);
  const hasParams = op.parameters.some((p) => p.in === "path");
  const queries = op.parameters.filter((p) => p.in === "query");
  const kind = pickKind(rng, hasParams, queries.length > 0);
  let path = op.path;
  for (const p of op.parameters.filter((x) => x.in === "path")) {
    const value =
      kind === "path" ? edgePathValue(rng) : rng.chance(0.85) ? realId(f, op.path) : edgePathValue(rng);
    path = path.replace(`{${p.name}}`, value.includes("%") ? value : encodeURIComponent(value));
  }
  const query = new URLSearchParams();
  for (const q of queries) {
    if (kind === "query" && rng.chance(0.6)) query.append(q.name, edgeQueryValue(rng, resolve(q.schema)));
    else if (rng.chance(0.3)) query.append(q.name, String(validValue(q.schema, resolve, rng)));
  }
  if (op.path.endsWith("/agent/reservations")) query.set("from", query.get("from") ?? "0");
  // A follow stream waits for output that never comes: always ask for the JSON answer.
  if (queries.some((q) => q.name === "follow")) query.set("follow", "false");
  const isAgent = op.path.startsWith("/api/v1/agent/");
  const isLogin = op.path === "/api/v1/login";
  const headers: Record<string, string> = {};
  if (!isLogin) headers.authorization = `Bearer ${isAgent ? f.session : f.t.admin}`;
  if (kind === "auth") {
    if (rng.chance(0.5)) delete headers.authorization;
    else
      headers.authorization = rng.pick([
        "Bearer ",
        "Basic x",
        `Bearer ${"x".repeat(5000)}`,
        "Bearer berth_sk_01arz3ndektsv4rrffq69g5fav_xxx",
      ]);
  }
  let body: string | undefined;
  if (op.body) {
    const seed = seedBody(f, op, rng);
    headers["content-type"] = "application/json";
    if (kind === "raw") {
      const raw = rng.next();
      if (raw < 0.15) body = '{"name":';
      else if (raw < 0.25) body = "";
      else if (raw < 0.35) {
        headers["content-type"] = rng.pick([
          "text/plain",
          "application/x-www-form-urlencoded",
          "multipart/form-data; boundary=x",
        ]);
        body = toJson(seed);
      } else if (raw < 0.5) body = toJson(new Deep(rng.pick([33, 5000])));
      else if (raw < 0.6) body = `{"a":${toJson(new Deep(rng.pick([31, 32, 200])))}}`;
      else if (raw < 0.7) body = toJson({ [PROTO]: { isAdmin: true }, ...(seed as object) });
      else if (raw < 0.8) body = `{"x":"${"y".repeat(1024 * 1024 + 10)}"}`;
      else if (raw < 0.9)
        body = rng.pick(["[]", "null", "42", '"x"', "true", "\ufeff{}", "{}{}", '{"a":1,}']);
      else body = toJson(seed).replace(/"([a-zA-Z]+)":/, '"\\u005f\\u005fproto\\u005f\\u005f":');
    } else {
      const value = kind === "body" ? mutateBody(seed, op.body, resolve, rng) : seed;
      body = toJson(op.path.endsWith("/result") && rng.chance(0.8) ? f.sign(value) : value);
    }
  }
  const qs = query.toString();
  return { op, kind, url: `${path}${qs ? `?${qs}` : ""}`, method: op.method, headers, body };
}

const preview = (s: string | undefined) =>
  s && s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s;

describe("fuzzing the API from its OpenAPI document", () => {
  it("answers every generated request below 500, refusals in the documented envelope, and a refusal writes nothing", async () => {
    const f = await fixture();
    const rng = prng(SEED);
    const ops = operationsOf(f.doc)
      .filter((op) => !op.path.endsWith("/openapi.json") && !op.path.endsWith("/docs"))
      // Deletes last, so the objects other operations name exist while they are fuzzed.
      .sort((a, b) => Number(a.method === "DELETE") - Number(b.method === "DELETE"));
    const failures: string[] = [];
    let sent = 0;
    for (const op of ops) {
      for (let i = 0; i < CASES; i++) {
        const c = buildCase(f, op, rng);
        const committedBefore = f.store.committed;
        const refusedBefore = f.store.refused.length;
        const errorsBefore = f.errors.length;
        const res = await f.t.app.request(c.url, { method: c.method, headers: c.headers, body: c.body });
        sent++;
        const where = `${c.method} ${op.path} [${c.kind}] ${preview(c.url)} body=${preview(c.body)}`;
        const type = res.headers.get("content-type") ?? "";
        if (type.startsWith("text/event-stream")) {
          await res.body?.cancel();
          continue;
        }
        const text = await res.text();
        if (res.status >= 500 || f.store.refused.length > refusedBefore || f.errors.length > errorsBefore) {
          failures.push(
            `${where} → ${res.status} ${preview(text)} ${f.store.refused.slice(refusedBefore).join("; ")} ${f.errors.slice(errorsBefore).join("; ")}`,
          );
          continue;
        }
        if (res.status < 400) continue;
        let parsed: { error?: { code?: unknown; message?: unknown }; code?: unknown; message?: unknown };
        try {
          parsed = JSON.parse(text);
        } catch {
          failures.push(`${where} → ${res.status} is not JSON: ${preview(text)}`);
          continue;
        }
        const envelope = op.path === "/api/v1/login" ? parsed : parsed.error;
        if (
          typeof envelope?.code !== "string" ||
          typeof envelope?.message !== "string" ||
          !type.includes("json")
        )
          failures.push(`${where} → ${res.status} without the envelope: ${preview(text)}`);
        const unrouted = String(envelope?.message).startsWith("no route for");
        if (!op.statuses.has(res.status) && !unrouted)
          failures.push(`${where} → ${res.status}, which the document does not list for this operation`);
        if (f.store.committed !== committedBefore)
          failures.push(
            `${where} → ${res.status}, and ${f.store.committed - committedBefore} writes took effect`,
          );
      }
    }
    expect(sent).toBeGreaterThan(ops.length * CASES * 0.9);
    expect(
      failures.slice(0, 25),
      `seed ${SEED}: rerun with BERTH_FUZZ_SEED=${SEED}; ${failures.length} failures`,
    ).toEqual([]);
  }, 120_000);
});

/** Sends raw bytes to a server and reads the whole answer (status line, headers, body). */
async function rawRequest(
  port: number,
  bytes: string,
): Promise<{ status: number; type: string; body: string }> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.end(bytes);
  let answer = "";
  for await (const chunk of socket) answer += String(chunk);
  const [head = "", body = ""] = answer.split("\r\n\r\n");
  return {
    status: Number(head.split(" ")[1]),
    type: /content-type: *([^\r\n]+)/i.exec(head)?.[1] ?? "",
    body,
  };
}

describe("bounds everywhere (issue 11, finding 5)", () => {
  const bad = async (t: TestApp, req: () => Promise<Response>) => {
    const before = await snapshot(t.db);
    const res = await req();
    expect(await snapshot(t.db)).toBe(before);
    return errorOf(res);
  };
  const pathOf = (d: unknown) => (d as { path: string }[])[0]?.path;

  it("answers an id or name over 128 characters on every {id}/{name} route with 400, before storage reads it", async () => {
    const f = await fixture();
    const routes = operationsOf(f.doc).filter((op) => /\{(id|name)\}/.test(op.path));
    expect(routes.length).toBeGreaterThan(20);
    for (const op of routes) {
      for (const value of ["x".repeat(2100), "y".repeat(129), "a%00b", "b%7Fc"]) {
        const param = /\{(id|name)\}/.exec(op.path)![1]!;
        const auth = op.path.startsWith("/api/v1/agent/") ? f.session : f.t.admin;
        f.store.reads.length = 0;
        const res = await f.t.call(op.method, op.path.replace(`{${param}}`, value), {
          token: auth,
          body: op.body ? seedBody(f, op, prng(1)) : undefined,
        });
        const err = await errorOf(res);
        expect(err, `${op.method} ${op.path}`).toMatchObject({ status: 400, code: "InvalidRequest" });
        expect(pathOf(err.details)).toBe(param);
        expect(f.store.reads.filter((k) => k.includes(value.slice(0, 64)) || k.includes("\u0000"))).toEqual(
          [],
        );
      }
    }
    // 128 characters is an id that may exist: looked up, and not found.
    const res = await f.t.call("GET", `/api/v1/devices/${"z".repeat(128)}`, { token: f.t.admin });
    expect(res.status).toBe(404);
  });

  it("refuses numbers no engine stores exactly (beyond 2^53, 1e300) with 400 naming the field", async () => {
    const t = await testApp();
    const device = await registerAgent(t);
    const cases: [string, string, unknown, string][] = [
      ["POST", "/api/v1/jobs", { exe: "x", gpus: { count: 0, memoryGiB: 2 ** 53 + 2 } }, "gpus.memoryGiB"],
      ["POST", "/api/v1/jobs", { exe: "x", metadata: { n: 1e300 } }, "metadata.n"],
      ["POST", "/api/v1/jobs", { exe: "x", metadata: { deep: [{ n: -(2 ** 60) }] } }, "metadata.deep.0.n"],
      ["POST", "/api/v1/jobs", { exe: "x", maxDuration: 2 ** 53 + 2 }, "maxDuration"],
      ["PUT", "/api/v1/quotas", { maxGpus: 2 ** 53 + 2 }, "maxGpus"],
      [
        "POST",
        "/api/v1/registration-tokens",
        { name: "n", maxRegistrations: 2 ** 53 + 2 },
        "maxRegistrations",
      ],
      [
        "POST",
        "/api/v1/reservations",
        { nodeId: device.deviceId, type: "volume", data: { name: "v", sizeGiB: 1e300 }, duration: 60 },
        "data.sizeGiB",
      ],
    ];
    for (const [method, path, body, field] of cases) {
      const err = await bad(t, () => t.call(method, path, { token: t.admin, body }));
      expect(err, `${path} ${field}`).toMatchObject({ status: 400, code: "InvalidRequest" });
      expect(pathOf(err.details)).toBe(field);
    }
    // A machine's report is read tolerantly: a number it cannot keep is left out, not a 500.
    const info = { ...(gpudLoginBody("").machineInfo as object), memoryInfo: { totalBytes: 1e300 } };
    const beat = await t.call("POST", "/api/v1/agent/heartbeat", {
      token: device.session,
      body: { machineInfo: info },
    });
    expect(beat.status).toBe(200);
    const seen = (await (
      await t.call("GET", `/api/v1/devices/${device.deviceId}`, { token: t.admin })
    ).json()) as {
      info: { memoryBytes?: number };
    };
    expect(seen.info.memoryBytes).toBeUndefined();
    const token = (await createToken(t)).token;
    const login = await t.call("POST", "/api/v1/login", {
      body: gpudLoginBody(token, { resources: { cpu: "1e400", memory: "99999999999999999999Ei" } }),
    });
    expect(login.status).toBe(200);
    expect(
      ((await login.json()) as { validationResults: { name: string }[] }).validationResults.map(
        (r) => r.name,
      ),
    ).toEqual(["resources.cpu", "resources.memory"]);
  });

  it("keeps keys named after Object's members (constructor, toString) as data, and refuses __proto__ anywhere", async () => {
    const t = await testApp({ store: withDynamoLimits(sqliteStore(":memory:")) });
    const odd = { constructor: "a", toString: "b", valueOf: "c", hasOwnProperty: "d" };
    const token = await t.call("POST", "/api/v1/registration-tokens", {
      token: t.admin,
      body: { name: "odd", environmentVariables: odd, labels: odd },
    });
    expect(token.status).toBe(201);
    expect(await token.json()).toMatchObject({ environmentVariables: odd, labels: odd });
    const group = await t.call("POST", "/api/v1/node-groups", {
      token: t.admin,
      body: { name: "odd", labels: odd },
    });
    expect(group.status).toBe(201);
    expect(await group.json()).toMatchObject({ labels: odd });
    const job = await t.call("POST", "/api/v1/jobs", {
      token: t.admin,
      body: {
        exe: "x",
        metadata: { constructor: { name: "Set" }, toString: 1 },
        environment: ["constructor=1"],
      },
    });
    expect(job.status).toBe(201);
    const filtered = await t.call("GET", "/api/v1/devices?label=constructor=x&label=toString=y", {
      token: t.admin,
    });
    expect(filtered.status).toBe(200);
    expect(((await filtered.json()) as { items: unknown[] }).items).toEqual([]);

    for (const [path, text, at] of [
      ["/api/v1/api-keys", '{"name":"k","__proto__":{"role":"admin"}}', "__proto__"],
      ["/api/v1/node-groups", '{"name":"p","labels":{"__proto__":"x"}}', "labels.__proto__"],
      ["/api/v1/jobs", '{"exe":"x","metadata":{"a":[{"\\u005f_proto__":{}}]}}', "metadata.a.0.__proto__"],
      [
        "/api/v1/registration-tokens",
        '{"name":"e","environmentVariables":{"__proto__":"1"}}',
        "environmentVariables.__proto__",
      ],
    ] as const) {
      const err = await bad(t, () => t.call("POST", path, { token: t.admin, body: text }));
      expect(err, path).toMatchObject({ status: 400, code: "InvalidRequest" });
      expect(pathOf(err.details)).toBe(at);
    }
    const login = await t.call("POST", "/api/v1/login", {
      body: '{"token":"x","__proto__":{"machineInfo":{}}}',
    });
    expect(login.status).toBe(400);
    expect(((await login.json()) as { message: string }).message).toContain("__proto__");
  });

  it("refuses a string or list that would push an item past the engine's limit with 400 naming it", async () => {
    const t = await testApp({ store: withDynamoLimits(sqliteStore(":memory:")) });
    const agent = await registerAgent(t);
    const [reservation] = (await agent.poll(0)).reservations;
    const r = reservation ?? (await reserve(t, agent.deviceId));
    const cases: [string, string, string, unknown, string][] = [
      ["POST", "/api/v1/jobs", t.admin, { command: "x".repeat(32 * 1024 + 1) }, "command"],
      ["POST", "/api/v1/jobs", t.admin, { exe: "x", stdin: "€".repeat(22_000) }, "stdin"],
      ["POST", "/api/v1/jobs", t.admin, { exe: "x", args: Array(300).fill("a") }, "args"],
      ["POST", "/api/v1/jobs", t.admin, { exe: "x", args: Array(4).fill("a".repeat(30_000)) }, "args"],
      ["POST", "/api/v1/jobs", t.admin, { exe: "x", environment: Array(257).fill("A=1") }, "environment"],
      ["POST", "/api/v1/jobs", t.admin, { exe: "x", tags: Array(51).fill("t") }, "tags"],
      ["POST", "/api/v1/jobs", t.admin, { exe: "x", metadata: { a: "x".repeat(17_000) } }, "metadata"],
      ["POST", "/api/v1/profiles", t.admin, { name: "p", queue: "q".repeat(101) }, "queue"],
      [
        "POST",
        "/api/v1/reservations",
        t.admin,
        { nodeId: agent.deviceId, type: "debug", data: { a: "x".repeat(97 * 1024) }, duration: 60 },
        "data",
      ],
      [
        "POST",
        "/api/v1/reservations",
        t.admin,
        {
          nodeId: agent.deviceId,
          type: "process",
          data: { argv: ["a"], stdin: "x".repeat(65 * 1024) },
          duration: 60,
        },
        "data.stdin",
      ],
      [
        "POST",
        "/api/v1/registration-tokens",
        t.admin,
        { name: "e", environmentVariables: { A: "x".repeat(4097) } },
        "environmentVariables.A",
      ],
      [
        "POST",
        "/api/v1/registration-tokens",
        t.admin,
        {
          name: "e",
          environmentVariables: Object.fromEntries(
            Array.from({ length: 16 }, (_, i) => [`V${i}`, "x".repeat(4000)]),
          ),
        },
        "environmentVariables",
      ],
      [
        "POST",
        "/api/v1/agent/heartbeat",
        agent.session,
        { machineInfo: { hostname: "h".repeat(257) } },
        "machineInfo.hostname",
      ],
      [
        "POST",
        "/api/v1/agent/heartbeat",
        agent.session,
        { machineInfo: { gpuInfo: { product: "p".repeat(300), gpus: [{}] } } },
        "machineInfo.gpuInfo.product",
      ],
      [
        "POST",
        "/api/v1/agent/heartbeat",
        agent.session,
        { machineInfo: { gpuInfo: { gpus: Array(65).fill({}) } } },
        "machineInfo.gpuInfo.gpus",
      ],
      ["POST", "/api/v1/agent/heartbeat", agent.session, { agentVersion: "v".repeat(101) }, "agentVersion"],
      [
        "POST",
        `/api/v1/agent/reservations/${r.id}/output`,
        agent.session,
        { stream: "stdout", seq: 1, data: "€".repeat(90_000) },
        "data",
      ],
      [
        "PUT",
        `/api/v1/agent/reservations/${r.id}/result`,
        agent.session,
        { id: r.id, type: "debug", created: "x", state: "error", error: "e".repeat(33 * 1024) },
        "error",
      ],
    ];
    for (const [method, path, token, body, field] of cases) {
      const err = await bad(t, () => t.call(method, path, { token, body }));
      expect(err, `${path} ${field}`).toMatchObject({ status: 400, code: "InvalidRequest" });
      expect(err.message).toContain(field.split(".").pop()!);
      expect((err.details as { path: string }[]).map((d) => d.path)).toContain(field);
    }
    const token = (await createToken(t)).token;
    for (const [field, over] of [
      ["agentVersion", { agentVersion: "v".repeat(101) }],
      ["provider", { provider: "p".repeat(257) }],
      ["machineID", { machineID: "m".repeat(129) }],
      ["machineInfo.hostname", { machineInfo: { hostname: "h".repeat(257) } }],
    ] as const) {
      const before = await snapshot(t.db);
      const res = await t.call("POST", "/api/v1/login", { body: gpudLoginBody(token, over) });
      expect(res.status, field).toBe(400);
      expect(((await res.json()) as { message: string }).message).toContain(field);
      expect(await snapshot(t.db)).toBe(before);
    }
  });

  it("fits a job, a reservation and its result, a token's devices and a machine at every bound in DynamoDB's items", async () => {
    const store = withDynamoLimits(sqliteStore(":memory:"));
    const t = await testApp({ store });
    // Three-byte characters, to the byte bound of each field; the job as a whole just under 96 KiB.
    const wide = (bytes: number) => "€".repeat(Math.floor(bytes / 3));
    const env = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`V${i}`, wide(4096)]));
    const registration = await createToken(t, { environmentVariables: env, labels: { a: "b".repeat(63) } });
    const gpus = Array.from({ length: 64 }, (_, i) => ({
      uuid: wide(256),
      busID: wide(256),
      minorID: String(i),
      sn: wide(256),
      product: wide(256),
    }));
    const agent = await registerAgent(t, {
      token: registration.token,
      login: {
        machineInfo: { hostname: wide(256), osImage: wide(256), gpuInfo: { product: wide(256), gpus } },
        agentVersion: "v".repeat(100),
        provider: wide(256),
      },
    });
    const submitted = await t.call("POST", "/api/v1/jobs", {
      token: t.admin,
      body: {
        command: wide(32 * 1024),
        stdin: wide(24 * 1024),
        environment: Array.from({ length: 8 }, (_, i) => `E${i}=${wide(3000)}`),
        metadata: { m: wide(15 * 1024) },
      },
    });
    expect(submitted.status, await submitted.clone().text()).toBe(201);
    const debug = await reserve(t, agent.deviceId, { data: { d: wide(95 * 1024) } });
    const delivered = (await agent.poll(0)).reservations;
    expect(delivered.map((x) => x.id)).toContain(debug.id);
    // The job was placed: its reservation (its command, stdin and environment as JSON) reached the feed.
    const carried = delivered.find((x) => x.type === "process");
    expect(Buffer.byteLength(carried?.data ?? "")).toBeGreaterThan(75 * 1024);
    const echoed = await agent.result(debug, "error", JSON.parse(debug.data), wide(32 * 1024));
    expect(echoed.status, await echoed.clone().text()).toBe(200);
    expect(store.refused).toEqual([]);
  });

  it("refuses a body nested deeper than 32 levels with 400, before anything walks it", async () => {
    const t = await testApp();
    const nested = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    expect(
      (await t.call("POST", "/api/v1/api-keys", { token: t.admin, body: `{"name":"k","x":${nested(31)}}` }))
        .status,
    ).toBe(201);
    for (const n of [32, 5000, 100_000]) {
      const err = await bad(t, () =>
        t.call("POST", "/api/v1/jobs", { token: t.admin, body: `{"exe":"x","metadata":{"a":${nested(n)}}}` }),
      );
      expect(err).toMatchObject({ status: 400, code: "InvalidRequest" });
      expect(err.message).toContain("deeper than 32");
    }
    const login = await t.call("POST", "/api/v1/login", { body: `{"machineInfo":${nested(5000)}}` });
    expect(login.status).toBe(400);
    expect(await login.json()).toMatchObject({ code: "InvalidRequest" });
  });

  it("answers headers over Node's limit (431) and an unknown method in the envelope, on the Node host", async () => {
    const t = await testApp();
    const server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
    answerClientErrors(server);
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    try {
      const big = await rawRequest(
        port,
        `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(20 * 1024)}\r\n\r\n`,
      );
      expect(big).toMatchObject({ status: 431, type: "application/json" });
      expect(JSON.parse(big.body)).toMatchObject({ error: { code: "HeadersTooLarge" } });
      const method = await rawRequest(port, "FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      expect(method).toMatchObject({ status: 400, type: "application/json" });
      expect(JSON.parse(method.body)).toMatchObject({
        error: { code: "RequestNotSupported", message: "unknown HTTP method" },
      });
      const garbage = await rawRequest(port, "\u0001\u0002 nonsense\r\n\r\n");
      expect(garbage).toMatchObject({ status: 400, type: "application/json" });
      expect(JSON.parse(garbage.body)).toMatchObject({
        error: { code: expect.any(String), message: expect.any(String) },
      });
      // A method Node parses but no route has is the app's 404, in the envelope as well.
      const unrouted = await rawRequest(
        port,
        "PROPFIND /api/v1/devices HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
      expect(unrouted.status).toBe(404);
      expect(JSON.parse(unrouted.body)).toMatchObject({ error: { code: "NotFound" } });
    } finally {
      server.close();
    }
  });

  it("documents 400 and 413 on every route with a body, 400 where there are parameters, and 500/503 everywhere", async () => {
    const t = await testApp();
    const doc = (await (await t.call("GET", "/api/v1/openapi.json")).json()) as OpenApiDoc;
    for (const op of operationsOf(doc)) {
      const name = `${op.method} ${op.path}`;
      if (op.body) expect([...op.statuses], name).toEqual(expect.arrayContaining([400, 413]));
      if (op.parameters.length) expect([...op.statuses], name).toContain(400);
      if (op.path.startsWith("/api/v1/"))
        expect([...op.statuses], name).toEqual(expect.arrayContaining([500, 503]));
    }
    const error = doc.paths["/api/v1/jobs"]!.post!.responses["413"] as {
      content: Record<string, { schema: unknown }>;
    };
    expect(error.content["application/json"]!.schema).toEqual({ $ref: "#/components/schemas/Error" });
  });
});
