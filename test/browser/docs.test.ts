import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { testApp } from "../helpers/app.ts";
import { CHROMIUM, withBrowser } from "../helpers/browser.ts";

withBrowser("the API docs page in a real browser, without internet", () => {
  let http: Server;
  let url: string;
  let browser: Browser;
  beforeAll(async () => {
    const t = await testApp();
    http = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
    });
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    http?.closeAllConnections();
    http?.close();
  });

  it("renders Swagger UI with Berth's operations from this server alone", async () => {
    const page = await browser.newPage();
    // Air-gapped: anything not from this server fails, and is recorded.
    const elsewhere: string[] = [];
    await page.route("**/*", (route) => {
      if (route.request().url().startsWith(`${url}/`)) return route.continue();
      elsewhere.push(route.request().url());
      return route.abort();
    });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(`${url}/api/v1/docs`);
    await page.locator(".swagger-ui .info .title").waitFor({ timeout: 30_000 });
    expect(await page.locator(".swagger-ui .info .title").innerText()).toContain("Berth API");
    // The operations of the document are there, grouped by tag.
    await page.locator(".opblock-tag", { hasText: "jobs" }).first().waitFor({ timeout: 30_000 });
    expect(await page.locator(".opblock").count()).toBeGreaterThan(20);
    expect(elsewhere).toEqual([]);
    expect(errors).toEqual([]);
  }, 60_000);
});
