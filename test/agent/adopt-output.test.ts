import { generateKeyPairSync } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ReservationCache } from "../../agent/cache.ts";
import type { AgentClient } from "../../agent/client.ts";
import { Engine } from "../../agent/engine.ts";
import { ensureAgentDir, loadOrCreateKeys } from "../../agent/state.ts";
import { silentLogger } from "../../shared/adapters/logger.ts";
import type { AgentReservation } from "../../shared/contracts/reservations.ts";
import { newId } from "../../shared/domain/ids.ts";
import type { OutputChunk } from "../../shared/domain/output.ts";
import { publicKeyToBase64, signReservation } from "../../shared/domain/signing.ts";
import { until } from "../helpers/wait.ts";

describe("a successor adopting an application's programs", () => {
  it("sends the old reservation's unacknowledged batch under the old one first: no line goes under both", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-adopt-"));
    const paths = await ensureAgentDir(dir);
    const controlPlane = generateKeyPairSync("ed25519");
    // A control plane that stores output by (reservation, seq) as the real one does, and whose answers to
    // the first reservation's output are lost until `answer` is set.
    const stored = new Map<string, Map<number, OutputChunk>>();
    let answer = false;
    let first = "";
    const client = {
      async output(id: string, chunks: OutputChunk[]) {
        const mine = stored.get(id) ?? new Map<number, OutputChunk>();
        stored.set(id, mine);
        for (const c of chunks) if (!mine.has(c.seq)) mine.set(c.seq, c);
        if (id === first && !answer) throw new Error("the answer was lost");
        return { stored: chunks.length, ignored: 0 };
      },
      status: async () => ({}),
      result: async () => ({}),
      deleted: async () => ({}),
      heartbeat: async () => ({}),
    } as unknown as AgentClient;
    const engine = new Engine({
      cache: new ReservationCache(paths.cache),
      client,
      keys: await loadOrCreateKeys(dir),
      controlPlaneKey: publicKeyToBase64(controlPlane.publicKey),
      paths,
      log: silentLogger,
    });
    const reservation = (supersedes?: string): AgentReservation => {
      const fields = {
        id: newId(),
        nodeId: "device-1",
        workspaceId: "default",
        type: "application" as const,
        data: JSON.stringify({
          application: {
            id: "app1",
            namespace: "default",
            name: "web",
            version: 1,
            configVersion: 1,
            specHash: "h1",
          },
          ...(supersedes ? { supersedes } : {}),
          kind: "process",
          containers: [{ name: "main", argv: ["/bin/sh", "-c", "echo one; echo two; exec sleep 600"] }],
          stopGracePeriodSeconds: 1,
        }),
        created: new Date().toISOString(),
        duration: 3600,
      };
      return {
        ...fields,
        user: "u",
        toDelete: false,
        signature: signReservation(fields, controlPlane.privateKey),
      };
    };
    const text = (id: string) =>
      [...(stored.get(id)?.values() ?? [])]
        .sort((a, b) => a.seq - b.seq)
        .map((c) => c.data)
        .join("");
    const a = reservation();
    first = a.id;
    await engine.accept(a);
    // The batch reached the control plane, its answer did not: the agent still holds it as in flight.
    await until(async () => {
      await engine.tick();
      return text(a.id) === "one\ntwo\n";
    }, 20_000);
    answer = true;
    const b = reservation(a.id);
    await engine.accept(b);
    for (let i = 0; i < 3; i++) await engine.tick();
    expect(text(a.id)).toBe("one\ntwo\n");
    expect(text(b.id)).toBe("");
    await engine.decommission(b.id, "removal");
  });
});
