import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type TestApp, testApp } from "../helpers/app.ts";
import { CHROMIUM, withBrowser } from "../helpers/browser.ts";
import { type GpuAgent, gpuAgent, job, start, submit } from "../helpers/jobs.ts";
import { until } from "../helpers/wait.ts";

/**
 * A host that holds no streams (AWS Lambda with the agent service: follow requests are answered 307 to another
 * origin, where the browser may not take the key): the job page reads the output as it is, again and again.
 */
withBrowser("the dashboard on a host that sends follows elsewhere", () => {
  let t: TestApp;
  let http: Server;
  let url: string;
  let browser: Browser;
  let agent: GpuAgent;
  beforeAll(async () => {
    t = await testApp({ config: { followMode: "redirect", agentEndpoint: "http://127.0.0.1:9" } });
    agent = await gpuAgent(t, 1);
    http = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
    });
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    http?.closeAllConnections();
    http?.close();
  });

  it("shows a job's output as it grows, and its end", async () => {
    const { body } = await submit(t, { name: "windowed" });
    const follow = await t.call("GET", `/api/v1/jobs/${body.id}/output?follow=true`, { token: t.admin });
    expect(follow.status).toBe(307);
    const r = await start(agent, body.id);
    const print = (seq: number, data: string) =>
      t.call("POST", `/api/v1/agent/reservations/${r.id}/output`, {
        token: agent.session,
        body: { chunks: [{ stream: "stdout", seq, data }] },
      });
    expect((await print(1, "first line\n")).status).toBeLessThan(300);
    const context = await browser.newContext();
    await context.addInitScript(`sessionStorage.setItem("berth.apiKey", ${JSON.stringify(t.admin)})`);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(`${url}/ui/jobs/${body.id}`);
    const output = page.getByLabel("job output");
    await output.getByText("first line").waitFor({ timeout: 30_000 });
    await print(2, "second line\n");
    await output.getByText("second line").waitFor({ timeout: 30_000 });
    await agent.result(r, "ok", { exitCode: 0 });
    await until(async () => (await job(t, body.id)).status === "Finished", 10_000);
    await page.locator('[data-follow="complete"]').waitFor({ timeout: 30_000 });
    expect(await output.innerText()).toBe("first line\nsecond line\n");
    expect(errors).toEqual([]);
  }, 90_000);
});
