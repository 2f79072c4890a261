import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GpudSource, isLocalGpud } from "../../agent/health/gpud.ts";
import { HealthReport, summarize } from "../../shared/domain/gpu-health.ts";

const TLS = join(import.meta.dirname, "../fixtures/tls");

/** GPUd's local API as its swagger documents it: states, events, set-healthy. */
describe("GpudSource: forwarding a GPUd beside the agent", () => {
  const setHealthy: string[] = [];
  let endpoint = "";
  const server = createServer(
    {
      cert: readFileSync(join(TLS, "localhost-cert.pem")),
      key: readFileSync(join(TLS, "localhost-key.pem")),
    },
    (req, res) => {
      const url = new URL(req.url!, "https://localhost");
      res.setHeader("content-type", "application/json");
      if (url.pathname === "/v1/states")
        return res.end(
          JSON.stringify([
            {
              component: "accelerator-nvidia-error-xid",
              states: [
                {
                  name: "error_xid",
                  health: "Unhealthy",
                  reason: "XID 79 (GPU has fallen off the bus) detected on GPU GPU-1",
                  suggested_actions: { repair_actions: ["REBOOT_SYSTEM"] },
                },
              ],
            },
            {
              component: "accelerator-nvidia-temperature",
              states: [{ name: "temperature", health: "Healthy" }],
            },
          ]),
        );
      if (url.pathname === "/v1/events")
        return res.end(
          JSON.stringify([
            {
              component: "accelerator-nvidia-error-xid",
              events: [{ time: "2026-12-02T10:00:00Z", name: "error_xid", type: "Fatal", message: "XID 79" }],
            },
            { component: "accelerator-nvidia-temperature", events: null },
          ]),
        );
      if (url.pathname === "/v1/health-states/set-healthy" && req.method === "POST") {
        setHealthy.push(url.searchParams.get("components") ?? "");
        return res.end("{}");
      }
      res.statusCode = 404;
      res.end("{}");
    },
  );
  beforeAll(async () => {
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    endpoint = `https://localhost:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it("forwards GPUd's states and events as a report of source gpud, each event once", async () => {
    const gpud = new GpudSource({ endpoint, bootIdPath: "/proc/sys/kernel/random/boot_id" });
    const report = await gpud.collect();
    expect(HealthReport.parse(report)).toEqual(report);
    expect(report.source).toBe("gpud");
    expect(report.states.map((c) => c.component)).toEqual([
      "accelerator-nvidia-error-xid",
      "accelerator-nvidia-temperature",
    ]);
    expect(report.events).toHaveLength(1);
    expect(report.events[0]).toMatchObject({ type: "Fatal", time: "2026-12-02T10:00:00.000Z" });
    expect(gpud.shouldSend(report, undefined, new Date())).toBe(true);
    await gpud.markSent(report);
    const again = await gpud.collect();
    expect(again.events).toEqual([]);
    expect(gpud.shouldSend(again, { report, at: new Date() }, new Date())).toBe(false);
    // No GPU named: the device as a whole is kept from placement.
    expect(summarize(report, new Date().toISOString())).toMatchObject({
      state: "Unhealthy",
      deviceUnhealthy: true,
    });
  });

  it("maps set-healthy to GPUd's, and sends the next report whatever changed", async () => {
    const gpud = new GpudSource({ endpoint });
    const first = await gpud.collect();
    await gpud.markSent(first);
    await gpud.setHealthy(["accelerator-nvidia-error-xid"], new Date());
    expect(setHealthy).toEqual(["accelerator-nvidia-error-xid"]);
    expect(gpud.shouldSend(await gpud.collect(), { report: first, at: new Date() }, new Date())).toBe(true);
  });

  it("talks only to https on this machine", () => {
    expect(isLocalGpud("https://localhost:15132")).toBe(true);
    expect(isLocalGpud("https://127.0.0.1:15132")).toBe(true);
    expect(isLocalGpud("http://localhost:15132")).toBe(false);
    expect(isLocalGpud("https://gpud.example.com:15132")).toBe(false);
    expect(isLocalGpud("not a url")).toBe(false);
  });
});
