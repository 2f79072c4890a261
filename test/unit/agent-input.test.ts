import { describe, expect, it } from "vitest";
import { keys } from "../../shared/adapters/repositories/keys.ts";
import { errorOf, testApp } from "../helpers/app.ts";
import { createToken, gpudLoginBody, login } from "../helpers/fleet.ts";
import { gpuAgent, submit } from "../helpers/jobs.ts";

/** Berth's agent's GPU list (it names each GPU's index). */
const gpus = (...indexes: unknown[]) => ({
  gpuInfo: { product: "NVIDIA H100", gpus: indexes.map((index, i) => ({ uuid: `GPU-${i}`, index })) },
});

describe("machine info from an agent", () => {
  it.each([
    ["two GPUs with the same index", [0, 0], "machineInfo.gpuInfo.gpus.1.index", "also the index of GPU 0"],
    ["a negative index", [0, -1], "machineInfo.gpuInfo.gpus.1.index", "whole number from 0"],
    ["a fractional index", [0.5], "machineInfo.gpuInfo.gpus.0.index", "whole number from 0"],
    ["an index that is not a number", ["1"], "machineInfo.gpuInfo.gpus.0.index", "whole number from 0"],
  ])(
    "refuses %s at login and at heartbeat, naming the field, and changes nothing",
    async (_, indexes, path, message) => {
      const t = await testApp();
      const { token } = await createToken(t, {});
      const refused = await login(t, gpudLoginBody(token, { machineInfo: gpus(...indexes) }));
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.body)).toContain(path);
      expect(JSON.stringify(refused.body)).toContain(message);
      const listed = async () =>
        (await (await t.call("GET", "/api/v1/devices", { token: t.admin })).json()) as {
          items: { id: string; info: { gpus: unknown[] } }[];
        };
      expect((await listed()).items).toEqual([]);

      const ok = await login(t, gpudLoginBody(token, { machineInfo: gpus(0, 1) }));
      expect(ok.status).toBe(200);
      const session = ok.body.token as string;
      const before = (await listed()).items;
      const res = await t.call("POST", "/api/v1/agent/heartbeat", {
        token: session,
        body: { machineInfo: gpus(...indexes) },
      });
      expect(res.status).toBe(400);
      const err = await errorOf(res);
      expect(JSON.stringify(err)).toContain(path);
      expect((await listed()).items).toEqual(before);
    },
  );
});

describe("a stored item that no longer parses", () => {
  it("is skipped by lists (logged, counted in metrics), and submits neither fail nor take quota twice", async () => {
    const t = await testApp();
    const good = await gpuAgent(t, 2);
    const bad = await gpuAgent(t, 2);
    // As an older version could have stored it: a GPU index that is not a whole number.
    const item = (await t.db.get(keys.device(bad.deviceId)))!;
    await t.db.put({
      ...item,
      info: { ...(item.info as object), gpus: [{ index: 0.5 }] },
    });

    const list = await t.call("GET", "/api/v1/devices", { token: t.admin });
    expect(list.status).toBe(200);
    const ids = ((await list.json()) as { items: { id: string }[] }).items.map((d) => d.id);
    expect(ids).toEqual([good.deviceId]);
    // The one device still fails loudly when read by itself (it is not silently a different device).
    expect((await t.call("GET", `/api/v1/devices/${bad.deviceId}`, { token: t.admin })).status).toBe(500);

    const submitted = await submit(t, { gpus: { count: 1 } });
    expect(submitted.status).toBe(201);
    const quota = (await (await t.call("GET", "/api/v1/quotas", { token: t.admin })).json()) as {
      use: { gpus: number; runningJobs: number };
    };
    expect(quota.use).toMatchObject({ gpus: 1, runningJobs: 1 });

    const metrics = (await (await t.call("GET", "/api/v1/metrics", { token: t.admin })).json()) as {
      storage: { corruptItemsSkipped: number };
    };
    expect(metrics.storage.corruptItemsSkipped).toBeGreaterThanOrEqual(2);
  });
});
