import { generateKeyPairSync } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ReservationCache } from "../../agent/cache.ts";
import type { AgentClient } from "../../agent/client.ts";
import { Engine } from "../../agent/engine.ts";
import { isAlive } from "../../agent/runtimes/process.ts";
import { ensureAgentDir, loadOrCreateKeys } from "../../agent/state.ts";
import { silentLogger } from "../../shared/adapters/logger.ts";
import type { AgentReservation } from "../../shared/contracts/reservations.ts";
import { newId } from "../../shared/domain/ids.ts";
import { publicKeyToBase64, signReservation } from "../../shared/domain/signing.ts";
import { until } from "../helpers/wait.ts";

describe("the agent's clock", () => {
  it("stops an expiring workload on time while every request to the control plane hangs", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-clock-"));
    const paths = await ensureAgentDir(dir);
    const cache = new ReservationCache(paths.cache);
    const controlPlane = generateKeyPairSync("ed25519");
    // A control plane that accepts every request and never answers any.
    const hanging: string[] = [];
    const never = (what: string) => () => {
      hanging.push(what);
      return new Promise<never>(() => {});
    };
    const client = {
      status: never("status"),
      output: never("output"),
      result: never("result"),
      deleted: never("deleted"),
      heartbeat: never("heartbeat"),
    } as unknown as AgentClient;
    const engine = new Engine({
      cache,
      client,
      keys: await loadOrCreateKeys(dir),
      controlPlaneKey: publicKeyToBase64(controlPlane.publicKey),
      paths,
      log: silentLogger,
    });
    const fields = {
      id: newId(),
      nodeId: "device-1",
      workspaceId: "default",
      type: "process" as const,
      // Prints all the time: there is always output to send, and sending it never finishes.
      data: JSON.stringify({ argv: ["/bin/sh", "-c", "while :; do echo tick; sleep 0.05; done"], env: {} }),
      created: new Date().toISOString(),
      duration: 2,
    };
    const r: AgentReservation = {
      ...fields,
      user: "u",
      toDelete: false,
      signature: signReservation(fields, controlPlane.privateKey),
    };
    await engine.accept(r);
    const record = cache.get(r.id)!;
    expect(record.status).toBe("running");
    const pid = (record.workload as { pid: number }).pid;
    const stop = new AbortController();
    const clock = engine.runClock(50, stop.signal, () => {});
    try {
      await until(() => hanging.length > 0, 10_000); // the reports are stuck from here on
      // Stopped by its own clock as expired, while the requests it made still hang.
      await until(() => cache.get(r.id)?.status === "decommissioned", 20_000);
      expect(cache.get(r.id)?.stoppedBy).toBe("expiry");
      expect(await isAlive(pid)).toBe(false);
    } finally {
      stop.abort();
      await clock;
    }
  });
});
