import { describe, expect, it } from "vitest";
import { JOB_QUEUE_SHARDS } from "../../../shared/adapters/dynamo/job-repository.ts";
import { newId } from "../../../shared/domain/ids.ts";
import type { Job } from "../../../shared/domain/job.ts";
import { type ContractContext, codeOf, ws } from "./context.ts";
import { aDevice } from "./fixtures.ts";

export const aJob = (workspaceId: string, extra: Partial<Job> = {}): Job => ({
  id: newId(),
  workspaceId,
  name: "j",
  user: "u",
  queues: [],
  status: "Pending",
  statusMessage: "accepted",
  args: [],
  environment: [],
  secrets: [],
  placementConstraints: [],
  submissionTime: "2026-11-01T00:00:00.000Z",
  lastUpdateTime: "2026-11-01T00:00:00.000Z",
  exposedPorts: [],
  mounts: [],
  config: [],
  resourceLimits: [],
  gpus: { count: 0 },
  tags: [],
  metadata: {},
  resourceProfile: "custom",
  target: "fleet",
  maxDuration: 60,
  exe: "true",
  version: 1,
  allocatedGpus: [],
  quotaHeld: true,
  ...extra,
});

export function jobContract(ctx: ContractContext) {
  const { repos } = ctx;
  const at = "2026-11-01T00:00:05.000Z";

  describe("JobRepository", () => {
    it("stores a job, never overwrites one, and lists a workspace's by time with inclusive bounds", async () => {
      const w = ws();
      const a = aJob(w, { submissionTime: "2026-11-01T01:00:00.000Z" });
      const b = aJob(w, { submissionTime: "2026-11-01T02:00:00.000Z" });
      await repos().jobs.create(a);
      await repos().jobs.create(b);
      expect(await codeOf(repos().jobs.create(a))).toBe("Conflict");
      expect(await repos().jobs.get(a.id)).toEqual(a);
      const list = async (start?: string, end?: string) =>
        (await repos().jobs.list(w, { start, end }, { limit: 10 })).items.map((j) => j.id);
      expect(await list()).toEqual([a.id, b.id]);
      expect(await list("2026-11-01T01:00:00.000Z", "2026-11-01T01:00:00.000Z")).toEqual([a.id]);
      expect(await list("2026-11-01T01:00:00.001Z")).toEqual([b.id]);
    });

    it("updates only from the version it saw: of two racing updates one wins", async () => {
      const j = aJob(ws());
      await repos().jobs.create(j);
      const [x, y] = await Promise.all([
        repos().jobs.update(j, { status: "Canceled" }, at),
        repos().jobs.update(j, { statusMessage: "placed" }, at),
      ]);
      expect([x, y].filter(Boolean)).toHaveLength(1);
      expect((await repos().jobs.get(j.id))?.version).toBe(2);
    });

    it("keeps waiting jobs in the queue index, oldest first, until placed; active ones until final", async () => {
      const w = ws();
      const older = aJob(w, { submissionTime: "2026-11-01T01:00:00.000Z" });
      const newer = aJob(w, { submissionTime: "2026-11-01T02:00:00.000Z" });
      await repos().jobs.create(newer);
      await repos().jobs.create(older);
      expect((await repos().jobs.pending(w, 10)).map((j) => j.id)).toEqual([older.id, newer.id]);
      const shards = Array.from({ length: JOB_QUEUE_SHARDS }, (_, i) => i);
      const withPending = (
        await Promise.all(shards.map((s) => repos().jobs.workspacesWithPending(s)))
      ).flat();
      expect(withPending).toContain(w);
      const placed = await repos().jobs.update(older, { deviceId: "d1" }, at);
      expect((await repos().jobs.pending(w, 10)).map((j) => j.id)).toEqual([newer.id]);
      const active = async () =>
        (await Promise.all(shards.map((s) => repos().jobs.active(s, 1000)))).flat().map((j) => j.id);
      expect(await active()).toContain(older.id);
      await repos().jobs.update(placed!, { status: "Finished" }, at);
      expect(await active()).not.toContain(older.id);
    });
  });

  describe("JobEventRepository", () => {
    it("lists a job's events in order, after a given one, and nothing else of the job", async () => {
      const j = aJob(ws());
      await repos().jobs.create(j);
      const e1 = await repos().jobEvents.append(j.id, {
        type: "accepted",
        message: "a",
        status: "Pending",
        at: "2026-11-01T00:00:01.000Z",
      });
      const e2 = await repos().jobEvents.append(j.id, {
        type: "placed",
        message: "p",
        status: "Pending",
        at: "2026-11-01T00:00:02.000Z",
      });
      expect((await repos().jobEvents.list(j.id)).map((e) => e.type)).toEqual(["accepted", "placed"]);
      expect((await repos().jobEvents.list(j.id, e1.id)).map((e) => e.id)).toEqual([e2.id]);
      expect(await repos().jobEvents.list(j.id, e2.id)).toEqual([]);
    });
  });

  describe("ProfileRepository", () => {
    it("creates, reads, lists, updates and deletes profiles per workspace", async () => {
      const w = ws();
      const p = {
        name: "small",
        displayName: "Small",
        limits: [],
        placementConstraints: [],
        createdAt: at,
        updatedAt: at,
      };
      await repos().profiles.create(w, p);
      expect(await codeOf(repos().profiles.create(w, p))).toBe("Conflict");
      await repos().profiles.create(ws(), p);
      expect(await repos().profiles.get(w, "small")).toEqual(p);
      expect((await repos().profiles.list(w, { limit: 10 })).items.map((x) => x.name)).toEqual(["small"]);
      expect((await repos().profiles.update(w, "small", { queue: "big" }, at)).queue).toBe("big");
      await repos().profiles.delete(w, "small");
      expect(await codeOf(repos().profiles.delete(w, "small"))).toBe("NotFound");
      expect(await codeOf(repos().profiles.update(w, "small", {}, at))).toBe("NotFound");
    });
  });

  describe("QuotaRepository", () => {
    it("has no limits and no use until set", async () => {
      expect(await repos().quotas.get(ws())).toEqual({ limits: {}, used: { gpus: 0, runningJobs: 0 } });
    });

    it("takes exactly the room left when 20 reservations race, and gives it back", async () => {
      const w = ws();
      await repos().quotas.setLimits(w, { maxGpus: 7, maxRunningJobs: 100 });
      const results = await Promise.all(Array.from({ length: 20 }, () => repos().quotas.reserve(w, 2)));
      expect(results.filter((r) => r.ok)).toHaveLength(3);
      expect(results.find((r) => !r.ok)).toMatchObject({ limit: "maxGpus", value: 7, used: 6, asked: 2 });
      expect((await repos().quotas.get(w)).used).toEqual({ gpus: 6, runningJobs: 3 });
      await repos().quotas.release(w, 2);
      expect((await repos().quotas.get(w)).used).toEqual({ gpus: 4, runningJobs: 2 });
    });

    it("counts use without limits, removes a limit with null, and never goes below zero", async () => {
      const w = ws();
      expect(await repos().quotas.reserve(w, 3)).toEqual({ ok: true });
      await repos().quotas.setLimits(w, { maxRunningJobs: 1 });
      expect(await repos().quotas.reserve(w, 0)).toMatchObject({ ok: false, limit: "maxRunningJobs" });
      await repos().quotas.setLimits(w, { maxRunningJobs: null });
      expect(await repos().quotas.reserve(w, 0)).toEqual({ ok: true });
      for (let i = 0; i < 5; i++) await repos().quotas.release(w, 3);
      expect((await repos().quotas.get(w)).used.runningJobs).toBeGreaterThanOrEqual(0);
      expect((await repos().quotas.get(w)).used.gpus).toBeGreaterThanOrEqual(0);
    });
  });

  describe("DeviceRepository GPU claims", () => {
    it("gives each GPU to one job only when 10 jobs race for overlapping GPUs", async () => {
      const d = aDevice(ws());
      await repos().devices.create(d);
      const claims = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          repos().devices.claimGpus(d.id, [i % 2, (i % 2) + 1], `job-${i}`),
        ),
      );
      expect(claims.filter(Boolean)).toHaveLength(1);
      const owners = (await repos().devices.get(d.id))!.gpuOwners;
      expect(Object.keys(owners)).toHaveLength(2);
    });

    it("releases only what the job holds", async () => {
      const d = aDevice(ws());
      await repos().devices.create(d);
      await repos().devices.claimGpus(d.id, [0, 1], "a");
      await repos().devices.releaseGpus(d.id, [0, 1], "b");
      expect(Object.keys((await repos().devices.get(d.id))!.gpuOwners)).toEqual(["0", "1"]);
      await repos().devices.releaseGpus(d.id, [0], "a");
      expect((await repos().devices.get(d.id))!.gpuOwners).toEqual({ "1": "a" });
      expect(await repos().devices.claimGpus(newId(), [0], "x")).toBe(false);
    });
  });
}
