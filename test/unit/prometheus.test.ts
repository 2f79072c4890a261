import { describe, expect, it } from "vitest";
import { exposition } from "../../shared/domain/prometheus.ts";
import { testApp } from "../helpers/app.ts";
import { gpuAgent, submit } from "../helpers/jobs.ts";

const OPERATOR = "o".repeat(40);

/** Every line is a comment or `name{labels} value` (the text format's grammar, without timestamps). */
const SAMPLE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$/;
const wellFormed = (body: string) =>
  body
    .trimEnd()
    .split("\n")
    .every((l) => l.startsWith("# HELP ") || l.startsWith("# TYPE ") || SAMPLE.test(l));

describe("exposition", () => {
  it("writes HELP and TYPE once per metric, escapes label values, and leaves out metrics without samples", () => {
    const body = exposition([
      {
        name: "a_total",
        help: "line\nbreak",
        type: "counter",
        samples: [{ labels: { x: 'q"\\\n' }, value: 2 }],
      },
      { name: "empty", help: "none", type: "gauge", samples: [] },
    ]);
    expect(body).toBe('# HELP a_total line\\nbreak\n# TYPE a_total counter\na_total{x="q\\"\\\\\\n"} 2\n');
    expect(wellFormed(body)).toBe(true);
  });
});

describe("GET /metrics", () => {
  it("shows an admin its workspace's fleet, GPU health and active jobs in Prometheus text", async () => {
    const t = await testApp({ config: { operatorTokenHash: OPERATOR } });
    const agent = await gpuAgent(t, 2);
    await t.call("POST", "/api/v1/agent/health", {
      token: agent.session,
      body: {
        source: "berth",
        bootId: "b",
        collectedAt: new Date().toISOString(),
        states: [
          {
            component: "accelerator-nvidia-error-xid",
            states: [
              { name: "error_xid", health: "Unhealthy", reason: "XID 79", extra_info: { gpu_uuid: "GPU-1" } },
            ],
          },
        ],
        gpus: [
          { index: 0, uuid: "GPU-0", health: "Healthy" },
          { index: 1, uuid: "GPU-1", health: "Unhealthy", components: ["accelerator-nvidia-error-xid"] },
        ],
      },
    });
    expect((await submit(t, { gpus: { count: 1 } })).status).toBe(201);
    const res = await t.call("GET", "/metrics", { token: t.admin });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const body = await res.text();
    expect(wellFormed(body)).toBe(true);
    expect(body).toContain('berth_devices{workspace="default",status="online",scheduling="eligible"} 1');
    expect(body).toContain('berth_device_health{workspace="default",state="Unhealthy"} 1');
    expect(body).toContain('berth_gpus{workspace="default",state="unhealthy"} 1');
    expect(body).toContain('berth_gpus{workspace="default",state="allocated"} 1');
    expect(body).toContain('berth_gpus{workspace="default",state="free"} 0');
    expect(body).toMatch(
      /berth_gpu_unhealthy\{workspace="default",device="[^"]+",device_name="[^"]+",gpu="1",uuid="GPU-1"\} 1/,
    );
    expect(body).toMatch(/berth_jobs_active\{workspace="default",status="(Pending|Running)"\} 1/);
    expect(body).toMatch(/berth_storage_requests_total\{workspace="default",operation="[a-z]+"\} \d+/);

    // Another workspace sees nothing of this one.
    const other = await t.workspace("other");
    const theirs = await (await t.call("GET", "/metrics", { token: other })).text();
    expect(theirs).not.toContain('workspace="default"');
    expect(theirs).not.toContain("berth_gpu_unhealthy");
  });

  it("lets a metrics key scrape and nothing else; refuses members and strangers", async () => {
    const t = await testApp({ config: { operatorTokenHash: OPERATOR } });
    const created = await t.call("POST", "/api/v1/api-keys", {
      token: t.admin,
      body: { name: "prometheus", role: "metrics" },
    });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: string };
    expect((await t.call("GET", "/metrics", { token: key })).status).toBe(200);
    for (const path of ["/api/v1/jobs", "/api/v1/devices", "/api/v1/metrics", "/api/v1/secrets"])
      expect((await t.call("GET", path, { token: key })).status).toBe(403);
    expect((await t.call("GET", "/metrics", { token: await t.key("member") })).status).toBe(403);
    expect((await t.call("GET", "/metrics")).status).toBe(401);
    expect((await t.call("GET", "/metrics", { token: "p".repeat(40) })).status).toBe(401);
  });

  it("shows the operator token the process: storage by operation, polls, memory", async () => {
    const t = await testApp({ config: { operatorTokenHash: OPERATOR } });
    const body = await (await t.call("GET", "/metrics", { token: OPERATOR })).text();
    expect(wellFormed(body)).toBe(true);
    expect(body).toMatch(/berth_storage_requests_total\{engine="sqlite",operation="[a-z]+"\} \d+/);
    expect(body).toMatch(/process_resident_memory_bytes \d+/);
    expect(body).not.toContain("berth_devices");
  });
});
