/**
 * bench/dashboard: the dashboard's first load in Debian's Chromium against the local server (a child process)
 * with 20 jobs and no agent: the JavaScript and CSS it ships (gzipped, as the targets count it), and the time from
 * navigation to the overview drawn with its data (signed in: the key already in session storage), cold (a new
 * browser context, nothing cached) and warm, over 10 loads each.
 * Run: npm run bench -- dashboard
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { CHROMIUM } from "../test/helpers/browser.ts";
import { freePort } from "../test/helpers/ports.ts";
import { adminKeyOf, apiClient, startServerProcess, tempDir } from "../test/helpers/processes.ts";
import { summarize } from "./lib.ts";

const LOADS = 10;

export async function benchDashboard() {
  const assets = join(import.meta.dirname, "../dist/web/assets");
  let js = 0;
  let css = 0;
  for (const name of await readdir(assets)) {
    const gz = gzipSync(await readFile(join(assets, name))).length;
    if (name.endsWith(".js")) js += gz;
    else if (name.endsWith(".css")) css += gz;
  }
  const dataDir = await tempDir("bench-dashboard");
  const server = await startServerProcess(dataDir, { PORT: String(await freePort()) });
  const admin = await adminKeyOf(dataDir);
  const api = apiClient(
    () => server.url,
    () => admin,
  );
  for (let i = 0; i < 20; i++) await api("POST", "/jobs", { exe: "true", name: `bench-${i}` });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu"],
  });
  try {
    const load = async (page: import("playwright-core").Page) => {
      const t0 = performance.now();
      await page.goto(`${server.url}/ui/`);
      await page.getByRole("heading", { name: "Recent failures" }).waitFor();
      return performance.now() - t0;
    };
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      const context = await browser.newContext();
      await context.addInitScript(`sessionStorage.setItem("berth.apiKey", ${JSON.stringify(admin)})`);
      const page = await context.newPage();
      cold.push(await load(page));
      warm.push(await load(page));
      await context.close();
    }
    const c = summarize(cold);
    const w = summarize(warm);
    return [
      { metric: "JavaScript of the first load, gzipped (KB)", value: (js / 1024).toFixed(1) },
      { metric: "CSS, gzipped (KB)", value: (css / 1024).toFixed(1) },
      {
        metric: `navigation → overview drawn with data, cold: p50 / max of ${LOADS} (ms)`,
        value: `${Math.round(c.p50)} / ${Math.round(c.max)}`,
      },
      {
        metric: `the same, warm (files cached): p50 / max (ms)`,
        value: `${Math.round(w.p50)} / ${Math.round(w.max)}`,
      },
    ];
  } finally {
    await browser.close();
    await server.stop();
  }
}
