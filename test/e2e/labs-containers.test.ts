import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, expect, it } from "vitest";
import { readSse } from "../../cli/sse.ts";
import { Role } from "../../shared/domain/roles.ts";
import { createApiKey } from "../../shared/usecases/identity/api-keys.ts";
import { sweepLabs } from "../../shared/usecases/labs/images.ts";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { firstDevice } from "../helpers/agents.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { describeWithDocker, TEST_IMAGE } from "../helpers/docker-engine.ts";
import { createToken } from "../helpers/fleet.ts";
import { freePort } from "../helpers/ports.ts";
import { until } from "../helpers/wait.ts";

const LONG = 90_000;

/** Debian's docker-registry: the lab images come from a registry of the test's own, so the agent really pulls. */
const registryBin = spawnSync("sh", ["-c", "command -v docker-registry"], { encoding: "utf8" }).stdout.trim();

/**
 * Container labs on a real Docker engine, run by the real agent process (specs/labs.md): the prepuller
 * reaches the device and the menu then lists the image; a spawn pulls (with its progress), runs the image
 * with a host port Docker picked, probes it and reports it ready; two labs on one device get two ports; the
 * URL answers with the lab's token; delete removes the container.
 */
describeWithDocker("container labs on a real Docker engine", (engine) => {
  let t: TestApp;
  let http: Server;
  let agent: AgentProcess;
  let registry: ReturnType<typeof spawn> | undefined;
  let reg = "";
  const cleanup: string[] = [];
  const call = (method: string, path: string, body?: unknown, token = t.admin) =>
    t.call(method, path, { token, body });
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    if (!registryBin) throw new Error("no docker-registry: install Debian's docker-registry (.ci/run does)");
    const dir = await mkdtemp(join(tmpdir(), "berth-lab-registry-"));
    cleanup.push(dir);
    reg = `127.0.0.1:${await freePort()}`;
    await writeFile(
      join(dir, "config.yml"),
      `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${dir}/data}}\nhttp: {addr: "${reg}"}\n`,
    );
    registry = spawn(registryBin, ["serve", join(dir, "config.yml")], { stdio: "ignore" });
    // Three tags of the test image in the registry, none left on the engine: the agent must pull each.
    // Tag 3 has a layer of its own (the others share the test image's, which the engine has).
    const made = await engine().docker(["create", TEST_IMAGE, "sh", "-c", "true"]);
    const id = made.stdout.trim();
    expect((await engine().docker(["start", "-a", id])).code).toBe(0);
    await engine().docker(["cp", "/etc/hostname", `${id}:/lab-3`]);
    expect((await engine().docker(["commit", id, `${reg}/berth/lab:3`])).code).toBe(0);
    await engine().docker(["rm", id]);
    for (const tag of ["1", "2", "3"]) {
      if (tag !== "3")
        expect((await engine().docker(["tag", TEST_IMAGE, `${reg}/berth/lab:${tag}`])).code).toBe(0);
      await until(async () => (await engine().docker(["push", `${reg}/berth/lab:${tag}`])).code === 0, LONG);
      expect((await engine().docker(["rmi", `${reg}/berth/lab:${tag}`])).code).toBe(0);
    }

    t = await testApp({ config: { pollWaitCapSeconds: 5 } });
    http = await new Promise((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
    });
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const agentDir = await mkdtemp(join(tmpdir(), "berth-lab-docker-"));
    cleanup.push(agentDir);
    const { token } = await createToken(t);
    agent = startAgentProcess(
      ["--endpoint", url, "--token", token, "--data-dir", agentDir, "--runtime", "docker"],
      { DOCKER_HOST: engine().host },
    );
    await firstDevice(t, LONG);
    for (const name of ["alice", "bob"])
      keys[name] = (await createApiKey(t.deps, "default", { name, role: Role.member })).token;
    expect(
      (
        await call("POST", "/api/v1/profiles", {
          name: "small",
          limits: [
            { type: "cpuCount", value: "1" },
            { type: "memory", value: "256" },
          ],
        })
      ).status,
    ).toBe(201);
    const put = await call("PUT", "/api/v1/labs/config", {
      queues: [],
      sizes: ["small"],
      defaultSize: "small",
      images: {
        recommended: `${reg}/berth/lab:1`,
        menu: [{ reference: `${reg}/berth/lab:2`, name: "Two" }],
        dropdown: [{ reference: `${reg}/berth/lab:3` }],
        prepull: { refreshSeconds: 10 },
      },
      // busybox's httpd serves the token it was given at /, and answers the probe at /api.
      command:
        'mkdir -p /www/api && echo "$BERTH_LAB_USER $BERTH_LAB_TOKEN" > /www/index.html && echo ok > /www/api/index.html && exec httpd -f -p 8888 -h /www',
      readiness: { path: "/api/", timeoutSeconds: 2 },
    });
    expect(put.status, await put.clone().text()).toBe(200);
  }, 180_000);
  afterAll(async () => {
    await agent?.stop("SIGKILL");
    registry?.kill("SIGKILL");
    http?.closeAllConnections();
    http?.close();
    await Promise.all(cleanup.map((d) => rm(d, { recursive: true, force: true })));
  });

  it(
    "the prepuller pulls the recommended and menu images to the device, one at a time; then the menu lists them",
    async () => {
      const menu = async () =>
        (
          (await (await call("GET", "/api/v1/labs/images")).json()) as { menu: { reference: string }[] }
        ).menu.map((i) => i.reference);
      expect(await menu()).toEqual([`${reg}/berth/lab:1`]);
      // Rounds as the sweeper runs them (every refreshSeconds), until the device has both.
      await until(async () => {
        await new Promise((r) => setTimeout(r, 500));
        await sweepLabs(t.deps);
        const s = (await (await call("GET", "/api/v1/labs/prepulls")).json()) as {
          images: { pending: unknown[] };
          nodes: { pulling?: string }[];
        };
        return s.images.pending.length === 0;
      }, LONG);
      expect(await menu()).toEqual([`${reg}/berth/lab:1`, `${reg}/berth/lab:2`]);
      const listed = (await engine().docker(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])).stdout;
      expect(listed).toContain(`${reg}/berth/lab:1`);
      expect(listed).toContain(`${reg}/berth/lab:2`);
      expect(listed).not.toContain(`${reg}/berth/lab:3`); // the dropdown is never prepulled
      // The agent's inventory says so itself (sent again at once after each prepull).
      await until(async () => {
        const [d] = await t.deps.repos.devices.listAll("default");
        return (d?.info.images ?? []).some((i) => i.reference === `${reg}/berth/lab:2`);
      }, LONG);
    },
    LONG * 3,
  );

  it(
    "spawns two labs on one device: pulled with progress, on two host ports, ready, answering with each lab's token; delete removes the container",
    async () => {
      const spawn = (who: string, options: Record<string, unknown>) =>
        call("POST", "/api/v1/labs", { options: { size: "small", ...options } }, keys[who]);
      expect(
        (await spawn("alice", { imageList: "use_image_from_dropdown", imageDropdown: `${reg}/berth/lab:3` }))
          .status,
      ).toBe(201);
      expect((await spawn("bob", { imageClass: "recommended" })).status).toBe(201);
      const follow = async (who: string) => {
        const res = await call("GET", `/api/v1/labs/${who}/events`, undefined, keys[who]);
        const out: { event: string; message: string; progress?: number }[] = [];
        for await (const e of readSse(res.body!)) out.push({ event: e.event, ...JSON.parse(e.data) });
        return out;
      };
      const [a, b] = await Promise.all([follow("alice"), follow("bob")]);
      expect(a.at(-1), JSON.stringify(a)).toMatchObject({
        event: "complete",
        message: "Lab for alice is ready",
      });
      expect(b.at(-1), JSON.stringify(b)).toMatchObject({
        event: "complete",
        message: "Lab for bob is ready",
      });
      // Alice's image was not on the device: its pull is in her events; Bob's was prepulled.
      const pulls = a.filter((e) => e.message.startsWith("Pulling")).map((e) => e.message);
      expect(pulls[0]).toBe(`Pulling ${reg}/berth/lab:3`);
      // The base layer "Already exists" (the test image's); its own is pulled: all done at the end.
      expect(pulls.at(-1)).toMatch(/^Pulling .*berth\/lab:3: (\d+) of \1 layers done$/);
      expect(b.some((e) => e.message.startsWith("Pulling"))).toBe(false);
      const progress = a.filter((e) => e.progress !== undefined).map((e) => e.progress!);
      expect(progress).toEqual([...progress].sort((x, y) => x - y));

      const lab = async (who: string) =>
        (await (await call("GET", `/api/v1/labs/${who}`, undefined, keys[who])).json()) as {
          url: string;
          hostPort: number;
          status: string;
          jobId: string;
        };
      const [la, lb] = [await lab("alice"), await lab("bob")];
      expect(la.status).toBe("running");
      expect(la.hostPort).not.toBe(lb.hostPort);
      for (const [who, l] of [
        ["alice", la],
        ["bob", lb],
      ] as const) {
        const token = new URL(l.url).searchParams.get("token");
        const page = await fetch(l.url.replace(/^http:\/\/[^:/]+/, "http://127.0.0.1"));
        expect(page.status).toBe(200);
        expect((await page.text()).trim()).toBe(`${who} ${token}`);
      }
      // The size's limits are Docker's.
      const name = (
        await engine().docker(["ps", "--filter", "label=berth.lab=1", "--format", "{{.Names}}"])
      ).stdout
        .trim()
        .split("\n");
      expect(name).toHaveLength(2);
      const limits = (
        await engine().docker(["inspect", "-f", "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}", name[0]!])
      ).stdout.trim();
      expect(limits).toBe(`1000000000 ${256 * 2 ** 20}`);

      expect((await call("DELETE", "/api/v1/labs/alice", undefined, keys.alice)).status).toBe(202);
      const deleting = await follow("alice");
      expect(deleting.map((e) => e.message)).toEqual([
        "Shutting down lab container",
        "Lab for alice deleted",
        "Lab for alice deleted",
      ]);
      await until(
        async () =>
          (
            await engine().docker(["ps", "-a", "--filter", "label=berth.lab=1", "--format", "{{.Names}}"])
          ).stdout
            .trim()
            .split("\n")
            .filter(Boolean).length === 1,
        LONG,
      );
      expect((await call("DELETE", "/api/v1/labs/bob", undefined, keys.bob)).status).toBe(202);
    },
    LONG * 3,
  );
});
