import { describe, expect, it } from "vitest";
import type { Application, Deployment } from "../../../shared/domain/application.ts";
import { newId } from "../../../shared/domain/ids.ts";
import { type ContractContext, commits, ws } from "./context.ts";

const anApp = (workspaceId: string, extra: Partial<Application> = {}): Application => ({
  id: newId(),
  workspaceId,
  namespace: "default",
  name: "exporter",
  description: "",
  type: "process",
  version: 1,
  configVersion: 1,
  scheduling: { type: "AllDevices", selectors: {}, nodeGroups: [] },
  spec: {
    containers: [
      {
        name: "server",
        command: "sleep 1",
        entrypoint: [],
        args: [],
        env: [],
        secrets: [],
        ports: [],
        restartPolicy: { name: "always" },
      },
    ],
  },
  rollout: { maxUnavailable: "100%", minReadySeconds: 0 },
  stopGracePeriodSeconds: 10,
  status: "active",
  revision: 1,
  createdAt: "2026-12-01T00:00:00.000Z",
  updatedAt: "2026-12-01T00:00:00.000Z",
  createdBy: "key1",
  ...extra,
});

const aDeployment = (app: Application, deviceId: string, extra: Partial<Deployment> = {}): Deployment => ({
  applicationId: app.id,
  workspaceId: app.workspaceId,
  deviceId,
  version: 1,
  configVersion: 1,
  reservationId: newId(),
  state: "pending",
  message: "",
  containers: [],
  updatedAt: "2026-12-01T00:00:00.000Z",
  v: 1,
  ...extra,
});

export function applicationContract(ctx: ContractContext) {
  describe("ApplicationRepository and DeploymentRepository", () => {
    it("claims a name once per namespace; finds by name and id; replaces at a revision; deletes with its name", async () => {
      const w = ws();
      const repos = () => ctx.repos();
      const app = anApp(w);
      expect(await commits(repos(), repos().applications.create(app))).toBe(true);
      expect(await commits(repos(), repos().applications.create(anApp(w)))).toBe(false); // the name is taken
      expect(await commits(repos(), repos().applications.create(anApp(w, { namespace: "team-a" })))).toBe(
        true,
      );
      expect((await repos().applications.byName(w, "default", "exporter"))?.id).toBe(app.id);
      expect((await repos().applications.get(app.id))?.name).toBe("exporter");
      const next = { ...app, version: 2, revision: 2 };
      expect(await commits(repos(), repos().applications.replace(app, next))).toBe(true);
      expect(await commits(repos(), repos().applications.replace(app, { ...app, revision: 2 }))).toBe(false);
      expect(
        (await repos().applications.list(w, "default", { limit: 10 })).items.map((a) => a.version),
      ).toEqual([2]);
      expect((await repos().applications.all()).filter((a) => a.workspaceId === w)).toHaveLength(2);
      expect((await repos().applications.ofWorkspace(w)).map((a) => a.namespace).sort()).toEqual([
        "default",
        "team-a",
      ]);
      expect(await commits(repos(), repos().applications.delete(app))).toBe(false); // not at revision 1 any more
      expect(await commits(repos(), repos().applications.delete(next))).toBe(true);
      expect(await repos().applications.byName(w, "default", "exporter")).toBeUndefined();
      expect(await commits(repos(), repos().applications.create(anApp(w)))).toBe(true); // the name is free
    });

    it("keeps one deployment per device, changed only at the version read, found per application and per device", async () => {
      const repos = () => ctx.repos();
      const app = anApp(ws());
      const device = `dev-${newId().slice(-8)}`;
      const d = aDeployment(app, device);
      expect(await commits(repos(), repos().deployments.create(d))).toBe(true);
      expect(await commits(repos(), repos().deployments.create(aDeployment(app, device)))).toBe(false);
      const running = { ...d, state: "running" as const, v: 2 };
      expect(await commits(repos(), repos().deployments.replace(d, running))).toBe(true);
      expect(await commits(repos(), repos().deployments.replace(d, { ...d, v: 2 }))).toBe(false);
      expect(await repos().deployments.get(app.id, device)).toEqual(running);
      expect((await repos().deployments.ofApplication(app.id)).map((x) => x.deviceId)).toEqual([device]);
      expect((await repos().deployments.onDevice(device)).map((x) => x.applicationId)).toEqual([app.id]);
      expect(await commits(repos(), repos().deployments.delete(d))).toBe(false);
      expect(await commits(repos(), repos().deployments.delete(running))).toBe(true);
      expect(await repos().deployments.ofApplication(app.id)).toEqual([]);
    });

    it("keeps an application's deployment counts: moved with a deployment's write (or not at all), recounted, dropped", async () => {
      const repos = () => ctx.repos();
      const app = anApp(ws());
      const other = anApp(ws());
      const zero = { total: 0, available: 0, updated: 0, failed: 0, unknown: 0 };
      expect(await repos().deployments.counts(app.id)).toEqual(zero);
      const d = aDeployment(app, `dev-${newId().slice(-8)}`);
      const one = { ...zero, total: 1, updated: 1 };
      expect(
        await commits(repos(), repos().deployments.create(d), repos().deployments.count(app.id, one)),
      ).toBe(true);
      // A deployment write that fails moves no count.
      expect(
        await commits(
          repos(),
          repos().deployments.create(d),
          repos().deployments.count(app.id, { ...zero, total: 1 }),
        ),
      ).toBe(false);
      expect(
        await commits(repos(), repos().deployments.count(app.id, { ...zero, available: 1, failed: -0 })),
      ).toBe(true);
      expect(await repos().deployments.counts(app.id)).toEqual({ ...one, available: 1 });
      expect(
        await commits(repos(), repos().deployments.recount(other.id, { ...zero, total: 5, failed: 2 })),
      ).toBe(true);
      const both = await repos().deployments.countsOf([app.id, other.id, "nope"]);
      expect(both.get(app.id)).toEqual({ ...one, available: 1 });
      expect(both.get(other.id)).toEqual({ ...zero, total: 5, failed: 2 });
      expect(both.has("nope")).toBe(false);
      // A recount over counts that moved since it read them is refused (the change is not lost).
      const read = await repos().deployments.counts(app.id);
      expect(await commits(repos(), repos().deployments.count(app.id, { ...zero, failed: 1 }))).toBe(true);
      expect(await commits(repos(), repos().deployments.recount(app.id, zero, read))).toBe(false);
      expect(
        await commits(
          repos(),
          repos().deployments.recount(app.id, zero, await repos().deployments.counts(app.id)),
        ),
      ).toBe(true);
      expect(await repos().deployments.counts(app.id)).toEqual(zero);
      expect(await commits(repos(), repos().deployments.dropCounts(other.id))).toBe(true);
      expect(await repos().deployments.counts(other.id)).toEqual(zero);
    });

    it("queues applications for a pass: a mark taken off only if none came since; leases for one pass and the full pass", async () => {
      const apps = ctx.repos().applications;
      const [a, b] = [newId(), newId()];
      await apps.markDirty(a, "2026-11-01T00:00:00.000Z");
      await apps.markDirty(b, "2026-11-01T00:00:01.000Z");
      await apps.markDirty(a, "2026-11-01T00:00:02.000Z");
      const queued = await apps.dirty(1000);
      expect(queued.filter((q) => q.id === a)).toEqual([{ id: a, n: 2, at: "2026-11-01T00:00:02.000Z" }]);
      expect(queued.filter((q) => q.id === b)).toEqual([{ id: b, n: 1, at: "2026-11-01T00:00:01.000Z" }]);
      // A pass read mark 2; another change came (3): the clean of 2 leaves it queued.
      await apps.markDirty(a, "2026-11-01T00:00:03.000Z");
      await apps.clean(a, 2);
      expect((await apps.mark(a))?.n).toBe(3);
      await apps.clean(a, 3);
      expect(await apps.mark(a)).toBeUndefined();
      expect((await apps.dirty(1000)).map((q) => q.id)).not.toContain(a);
      await apps.clean(b, 1);
      expect((await apps.dirty(1000)).map((q) => q.id)).not.toContain(b);

      // One pass at a time over every caller: the lease until given back or run out.
      const t0 = new Date("2026-11-01T00:00:00.000Z");
      const claims = await Promise.all([1, 2, 3].map(() => apps.claimPass(a, t0, 30_000)));
      const until = claims.find((x) => x !== undefined)!;
      expect(claims.filter(Boolean)).toEqual([until]);
      expect(await apps.claimPass(a, new Date(t0.getTime() + 1000), 30_000)).toBeUndefined();
      expect(await apps.claimPass(b, t0, 30_000)).toBeDefined();
      await apps.releasePass(a, "2026-11-01T00:00:00.001Z"); // not the one held: nothing
      expect(await apps.claimPass(a, new Date(t0.getTime() + 1000), 30_000)).toBeUndefined();
      await apps.releasePass(a, until);
      const again = await apps.claimPass(a, new Date(t0.getTime() + 1000), 30_000);
      expect(again).toBeDefined();
      // Held by a caller that died: it runs out.
      expect(await apps.claimPass(a, new Date(t0.getTime() + 31_000), 30_000)).toBeDefined();
      const far = new Date("2030-01-01T00:00:00.000Z");
      expect(await apps.claimFullPass(far, 600_000)).toBe(true);
      expect(await apps.claimFullPass(new Date(far.getTime() + 599_999), 600_000)).toBe(false);
      expect(await apps.claimFullPass(new Date(far.getTime() + 600_000), 600_000)).toBe(true);
    });
  });
}
