import { describe, expect, it } from "vitest";
import { newId } from "../../../shared/domain/ids.ts";
import { type Job, moveJob } from "../../../shared/domain/job.ts";
import { quotaRefusal } from "../../../shared/domain/quota.ts";
import { type ContractContext, codeOf, commits, ws } from "./context.ts";

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
  const create = (j: Job) => commits(repos(), repos().jobs.create(j));
  /** Takes quota as submit does: read, check, conditional write, again when the quota changed meanwhile. */
  const reserve = async (w: string, gpus: number) => {
    for (;;) {
      const q = await repos().quotas.get(w);
      const refusal = quotaRefusal(q, gpus);
      if (refusal) return { ok: false as const, ...refusal };
      if (await commits(repos(), repos().quotas.take(w, q, gpus))) return { ok: true as const };
    }
  };

  describe("JobRepository", () => {
    it("claims a job name once per user, gives it up only for the job holding it", async () => {
      const w = ws();
      const a = aJob(w, { name: "train" });
      const b = aJob(w, { name: "train" });
      const claim = (j: Job) => commits(repos(), repos().jobs.claimName(j)!);
      const release = (j: Job) => commits(repos(), repos().jobs.releaseName(j)!);
      expect(repos().jobs.claimName(aJob(w, { name: "" }))).toBeUndefined();
      expect(await claim(a)).toBe(true);
      expect(await claim(b)).toBe(false);
      expect(await claim(aJob(w, { name: "train", user: "v" }))).toBe(true);
      expect(await claim(aJob(w, { name: "train", user: "u#train" }))).toBe(true);
      // Per key: another key of the same name has its own names.
      expect(await claim(aJob(w, { name: "train", ownerKeyId: "k1" }))).toBe(true);
      expect(await claim(aJob(w, { name: "train", ownerKeyId: "k1" }))).toBe(false);
      expect(await claim(aJob(w, { name: "train", ownerKeyId: "k2" }))).toBe(true);
      expect(await repos().jobs.nameHolder(a)).toBe(a.id);
      expect(await release(b)).toBe(false);
      expect(await repos().jobs.nameHolder(a)).toBe(a.id);
      expect(await release(a)).toBe(true);
      expect(await repos().jobs.nameHolder(a)).toBeUndefined();
      expect(await release(a)).toBe(false);
      expect(await claim(b)).toBe(true);
    });

    it("stores a job, never overwrites one, and lists a workspace's by time with inclusive bounds", async () => {
      const w = ws();
      const a = aJob(w, { submissionTime: "2026-11-01T01:00:00.000Z" });
      const b = aJob(w, { submissionTime: "2026-11-01T02:00:00.000Z" });
      expect(await create(a)).toBe(true);
      await create(b);
      expect(await create(a)).toBe(false);
      expect(await repos().jobs.get(a.id)).toEqual(a);
      const list = async (start?: string, end?: string) =>
        (await repos().jobs.list(w, { start, end }, { limit: 10 })).items.map((j) => j.id);
      expect(await list()).toEqual([a.id, b.id]);
      expect(await list("2026-11-01T01:00:00.000Z", "2026-11-01T01:00:00.000Z")).toEqual([a.id]);
      expect(await list("2026-11-01T01:00:00.001Z")).toEqual([b.id]);
    });

    it("lists newest first on request, page after page, with the same bounds", async () => {
      const w = ws();
      const jobs = [1, 2, 3, 4, 5].map((h) => aJob(w, { submissionTime: `2026-11-01T0${h}:00:00.000Z` }));
      for (const j of jobs) await create(j);
      const seen: string[] = [];
      let cursor: Record<string, unknown> | undefined;
      do {
        const page = await repos().jobs.list(w, { order: "desc" }, { limit: 2, cursor });
        seen.push(...page.items.map((j) => j.id));
        cursor = page.cursor;
      } while (cursor);
      expect(seen).toEqual(jobs.map((j) => j.id).reverse());
      const bounded = await repos().jobs.list(
        w,
        { start: "2026-11-01T02:00:00.000Z", end: "2026-11-01T04:00:00.000Z", order: "desc" },
        { limit: 10 },
      );
      expect(bounded.items.map((j) => j.id)).toEqual([jobs[3]!.id, jobs[2]!.id, jobs[1]!.id]);
    });

    it("updates only from the version it saw: of two racing updates one wins", async () => {
      const j = aJob(ws(), { controlRequested: "stop" });
      await create(j);
      const [x, y] = await Promise.all([
        repos().jobs.save(j, moveJob(j, "Canceled"), at),
        repos().jobs.save(j, { statusMessage: "placed" }, at),
      ]);
      expect([x, y].filter((o) => o.ok)).toHaveLength(1);
      const stored = await repos().jobs.get(j.id);
      expect(stored?.version).toBe(2);
      expect(stored?.lastUpdateTime).toBe(at);
      // null removes a field; a status is written only by a transition.
      const cleared = await repos().jobs.save(stored!, { controlRequested: null }, at);
      expect(cleared.ok && cleared.value.controlRequested).toBeUndefined();
      expect((await repos().jobs.get(j.id))?.controlRequested).toBeUndefined();
      expect(() => repos().jobs.update(stored!, { status: "Failed" } as never, at)).toThrow(/transition/);
    });

    it("keeps waiting jobs in the queue index, oldest first, until placed; active ones until final", async () => {
      const w = ws();
      const older = aJob(w, { submissionTime: "2026-11-01T01:00:00.000Z" });
      const newer = aJob(w, { submissionTime: "2026-11-01T02:00:00.000Z" });
      await create(newer);
      await create(older);
      expect((await repos().jobs.pending(w, 10)).map((j) => j.id)).toEqual([older.id, newer.id]);
      expect(await repos().jobs.workspacesWithPending()).toContain(w);
      const placed = await repos().jobs.save(older, { deviceId: "d1" }, at);
      expect((await repos().jobs.pending(w, 10)).map((j) => j.id)).toEqual([newer.id]);
      const active = async () => (await repos().jobs.active(1000)).map((j) => j.id);
      expect(await active()).toContain(older.id);
      const running = placed.ok ? placed.value : older;
      await repos().jobs.save(running, moveJob(running, "Finished"), at);
      expect(await active()).not.toContain(older.id);
    });
  });

  describe("JobEventRepository", () => {
    it("lists a job's events in order, after a given one, and nothing else of the job", async () => {
      const j = aJob(ws());
      await create(j);
      const append = async (type: string, atTime: string) => {
        const { write, event } = repos().jobEvents.append(j.id, {
          type,
          message: type,
          status: "Pending",
          at: atTime,
        });
        await commits(repos(), write);
        return event;
      };
      const e1 = await append("accepted", "2026-11-01T00:00:01.000Z");
      const e2 = await append("placed", "2026-11-01T00:00:02.000Z");
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
      expect(await repos().quotas.get(ws())).toEqual({
        limits: {},
        used: { gpus: 0, runningJobs: 0, secrets: 0, namespaces: 0, applications: 0 },
      });
    });

    it("takes exactly the room left when 20 reservations race, and gives it back", async () => {
      const w = ws();
      await repos().quotas.setLimits(w, { maxGpus: 7, maxRunningJobs: 100 });
      const results = await Promise.all(Array.from({ length: 20 }, () => reserve(w, 2)));
      expect(results.filter((r) => r.ok)).toHaveLength(3);
      expect(results.find((r) => !r.ok)).toMatchObject({ limit: "maxGpus", value: 7, used: 6, asked: 2 });
      expect((await repos().quotas.get(w)).used).toEqual({
        gpus: 6,
        runningJobs: 3,
        secrets: 0,
        namespaces: 0,
        applications: 0,
      });
      expect(await commits(repos(), repos().quotas.give(w, 2))).toBe(true);
      expect((await repos().quotas.get(w)).used).toEqual({
        gpus: 4,
        runningJobs: 2,
        secrets: 0,
        namespaces: 0,
        applications: 0,
      });
    });

    it("counts use without limits, removes a limit with null, and never goes below zero", async () => {
      const w = ws();
      expect(await reserve(w, 3)).toEqual({ ok: true });
      await repos().quotas.setLimits(w, { maxRunningJobs: 1 });
      expect(await reserve(w, 0)).toMatchObject({ ok: false, limit: "maxRunningJobs" });
      // A take decided under a limit that changed since is refused: the caller reads again.
      const read = await repos().quotas.get(w);
      await repos().quotas.setLimits(w, { maxRunningJobs: null });
      expect(await commits(repos(), repos().quotas.take(w, read, 0))).toBe(false);
      expect(await reserve(w, 0)).toEqual({ ok: true });
      expect((await repos().quotas.get(w)).used).toEqual({
        gpus: 3,
        runningJobs: 2,
        secrets: 0,
        namespaces: 0,
        applications: 0,
      });
      expect(await commits(repos(), repos().quotas.give(w, 3))).toBe(true);
      expect(await commits(repos(), repos().quotas.give(w, 3))).toBe(false);
      expect((await repos().quotas.get(w)).used).toEqual({
        gpus: 0,
        runningJobs: 1,
        secrets: 0,
        namespaces: 0,
        applications: 0,
      });
    });

    it("counts secrets under their limit (1,000 unless set) and only while the limit read holds", async () => {
      const w = ws();
      const take = async () =>
        commits(repos(), repos().quotas.takeCount(w, await repos().quotas.get(w), "secrets"));
      expect(await take()).toBe(true);
      await repos().quotas.setLimits(w, { maxSecrets: 2 });
      const results = await Promise.all(Array.from({ length: 5 }, take));
      // Each read the limit and the use, so some lose to another's write; none goes past the limit.
      expect((await repos().quotas.get(w)).used.secrets).toBe(1 + results.filter(Boolean).length);
      expect((await repos().quotas.get(w)).used.secrets).toBeLessThanOrEqual(2);
      while ((await repos().quotas.get(w)).used.secrets < 2) await take();
      expect(await take()).toBe(false);
      const read = await repos().quotas.get(w);
      await repos().quotas.setLimits(w, { maxSecrets: null }); // back to 1,000
      expect(await commits(repos(), repos().quotas.takeCount(w, read, "secrets"))).toBe(false); // decided under 2
      expect(await take()).toBe(true);
      expect(await commits(repos(), repos().quotas.giveCount(w, "secrets"))).toBe(true);
      expect(await repos().quotas.get(w)).toMatchObject({ limits: {}, used: { secrets: 2 } });
    });
  });
}
