import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { CHROMIUM, withBrowser } from "../helpers/browser.ts";
import { fakeGpuMachine } from "../helpers/fake-gpu-machine.ts";
import { freePort } from "../helpers/ports.ts";
import {
  adminKeyOf,
  apiClient,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

/**
 * Screenshots of the main pages, made by every run (not committed): test-results/dashboard/. With
 * BERTH_SCREENSHOTS=docs/screenshots they go where the README shows them from (npm run screenshots).
 */
const SHOTS = resolve(process.env.BERTH_SCREENSHOTS ?? "test-results/dashboard");

interface Job {
  id: string;
  status: string;
  statusCode?: string;
}

/**
 * The dashboard in Debian's Chromium against a real local server (child process) with a real agent (child
 * process, process runtime), and jobs from the real CLI.
 */
withBrowser("the dashboard in a real browser", () => {
  let server: ServerProcess;
  let agent: AgentProcess;
  let browser: Browser;
  let dataDir: string;
  let port: number;
  let admin: string;
  const url = () => `http://127.0.0.1:${port}`;
  const api = apiClient(url, () => admin);
  const cli = (args: string[], key = admin) => runCli(args, { BERTH_ENDPOINT: url(), BERTH_API_KEY: key });
  const start = async () => {
    server = await startServerProcess(dataDir, { PORT: String(port) });
  };

  beforeAll(async () => {
    dataDir = await tempDir("dashboard");
    port = await freePort();
    await start();
    admin = await adminKeyOf(dataDir);
    const { token } = await api<{ token: string }>("POST", "/registration-tokens", { name: "browser" });
    agent = startAgentProcess(
      [
        "--endpoint",
        url(),
        "--data-dir",
        await mkdtemp(join(tmpdir(), "berth-agent-")),
        "--runtime",
        "process",
      ],
      { BERTH_TOKEN: token, BERTH_NODE_LABELS: '{"team":"vision"}' },
    );
    await mkdir(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await agent?.stop("SIGKILL");
    await server?.stop();
  });

  /** A page signed in with `key`, where nothing may come from another origin (air-gapped). */
  async function signedIn(key: string): Promise<{ page: Page; elsewhere: string[]; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
    const page = await context.newPage();
    const elsewhere: string[] = [];
    await page.route("**/*", (route) => {
      if (route.request().url().startsWith(`${url()}/`)) return route.continue();
      elsewhere.push(route.request().url());
      return route.abort();
    });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(`${url()}/`);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("navigation", { name: "pages" }).waitFor();
    return { page, elsewhere, errors };
  }

  it("signs in with a key (kept in session storage only), shows the fleet, and a device coming online", async () => {
    const context = await browser.newContext();
    const first = await context.newPage();
    await first.goto(`${url()}/`);
    expect(first.url()).toBe(`${url()}/ui/`);
    // A wrong key: the API's own words, and still the sign-in form.
    await first.getByLabel("API key").fill("berth_sk_nope");
    await first.getByRole("button", { name: "Sign in" }).click();
    await first.getByRole("alert").waitFor();
    expect(await first.getByRole("alert").innerText()).toMatch(/API key/i);
    await context.close();

    const { page, elsewhere, errors } = await signedIn(admin);
    expect(await page.evaluate('sessionStorage.getItem("berth.apiKey")')).toBe(admin);
    expect(await page.evaluate("document.cookie + localStorage.length")).toBe("0");
    expect(page.url()).not.toContain(admin);
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    await page.getByRole("link", { name: "Devices", exact: true }).click();
    // The agent logs in while the page is open: the list refreshes by itself.
    await page.locator("td .status.good", { hasText: "online" }).waitFor({ timeout: 60_000 });
    await page.locator("td button.link").first().click();
    await page.getByRole("heading", { name: "GPUs" }).waitFor();
    await page.getByLabel("Status", { exact: true }).selectOption("offline");
    await page.getByText("No devices match").waitFor();
    await page.getByLabel("Status", { exact: true }).selectOption("");
    await page.getByLabel("Label", { exact: true }).fill("team=vision");
    await page.getByLabel("Label", { exact: true }).press("Enter");
    await page.locator("td .status.good", { hasText: "online" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "devices.png") });
    await page.getByRole("link", { name: "Overview" }).click();
    await page.getByRole("heading", { name: "Devices" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "overview.png") });
    expect(elsewhere).toEqual([]);
    expect(errors).toEqual([]);
  }, 120_000);

  it("follows a job's output live, through a restart of the control plane, and stops it from its page", async () => {
    const run = await cli([
      "run",
      "-d",
      "--name",
      "ticker",
      "--",
      "sh",
      "-c",
      "echo hello from the fleet; i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done",
    ]);
    expect(run.code, run.stderr).toBe(0);
    const id = run.stdout.trim();
    const { page, errors } = await signedIn(admin);
    await page.getByRole("link", { name: "Jobs", exact: true }).click();
    await page.getByRole("link", { name: "ticker" }).click();
    expect(page.url()).toBe(`${url()}/ui/jobs/${id}`);
    const output = page.getByLabel("job output");
    await output.getByText("hello from the fleet").waitFor({ timeout: 60_000 });
    await output.getByText("tick 2", { exact: true }).waitFor({ timeout: 30_000 });
    await page.getByText("following").waitFor();
    await page.locator(".timeline").getByText("started").waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(SHOTS, "job.png") });

    // The control plane restarts: the page says it lost the stream, and goes on after the last line it had.
    const ticks = async () => (await output.innerText()).match(/^tick \d+$/gm) ?? [];
    await server.stop();
    await page.locator('[data-follow="lost"]').waitFor({ timeout: 30_000 });
    await start();
    const before = (await ticks()).length;
    await page.locator('[data-follow="live"]').waitFor({ timeout: 60_000 });
    await until(async () => (await ticks()).length > before + 2, 60_000);
    const seen = await ticks();
    expect(new Set(seen).size).toBe(seen.length); // nothing twice
    expect(seen).toEqual(seen.map((_, i) => `tick ${i + 1}`)); // nothing missed

    // Stop, from the page: the API's rules (only Stop/Kill/Suspend while it runs), its outcome.
    expect(await page.getByRole("button", { name: "Cancel" }).count()).toBe(0);
    await page.getByRole("button", { name: "Stop" }).click();
    await until(async () => (await api<Job>("GET", `/jobs/${id}`)).status !== "Running", 60_000);
    expect(await api<Job>("GET", `/jobs/${id}`)).toMatchObject({ statusCode: "UserStop" });
    await page.getByText("complete", { exact: true }).waitFor({ timeout: 30_000 });
    await page.locator(".job-title .status", { hasText: /Killed|Finished/ }).waitFor({ timeout: 30_000 });
    await page.getByRole("button", { name: "Stop" }).waitFor({ state: "detached" });
    await page.getByRole("link", { name: "← Jobs" }).click();
    await page.getByRole("link", { name: "ticker" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "jobs.png") });
    // The API's filters: a time bound after every job, then a status none has.
    await page.getByLabel("Submitted after", { exact: true }).fill("2099-01-01T00:00");
    await page.getByText("No jobs match.").waitFor();
    expect(page.url()).toContain("after=2099-01-01T00%3A00");
    await page.getByLabel("Submitted after", { exact: true }).fill("");
    await page.getByRole("link", { name: "ticker" }).waitFor();
    await page.getByLabel("Status", { exact: true }).selectOption("Suspended");
    await page.getByText("No jobs match.").waitFor();
    expect(errors).toEqual([]);
  }, 180_000);

  it("shows a registration token's install line once; a member key is refused admin actions with the API's message", async () => {
    const { page } = await signedIn(admin);
    await page.getByRole("link", { name: "Registration tokens" }).click();
    await page.getByLabel("Name").fill("rack-7");
    await page.getByRole("button", { name: "Create token" }).click();
    const line = await page.locator("pre.install").innerText();
    expect(line).toMatch(
      new RegExp(
        `^curl -fsSL ${url().replace(/\./g, "\\.")}/install\\.sh \\| sudo BERTH_TOKEN=berth_rt_\\S+ sh$`,
      ),
    );
    await page.screenshot({ path: join(SHOTS, "tokens.png") });
    // Only once: the list has its prefix, never the secret.
    await page.reload();
    await page.getByRole("cell", { name: "rack-7" }).waitFor();
    expect(await page.content()).not.toContain(line.match(/BERTH_TOKEN=(\S+)/)![1]!);
    await page.getByRole("link", { name: "Profiles & quotas" }).click();
    await page.getByRole("meter", { name: "GPUs held by jobs" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "profiles.png") });

    // Secrets: their metadata and fingerprint, never the value.
    await api("POST", "/namespaces/default/secrets", {
      name: "hf",
      type: "Environment",
      data: "hf_Dashboard_Value_9",
      description: "Hugging Face token",
    });
    await page.getByRole("link", { name: "Secrets" }).click();
    await page.getByRole("cell", { name: "Hugging Face token" }).waitFor();
    expect(await page.locator("td code").first().innerText()).toMatch(/^[0-9a-f]{16}$/);
    expect(await page.content()).not.toContain("hf_Dashboard_Value_9");
    // Another namespace's, chosen from the namespaces (with their counts); the choice is in the URL.
    await api("POST", "/namespaces", { name: "team-a" });
    await api("POST", "/namespaces/team-a/secrets", {
      name: "wandb",
      type: "Environment",
      data: "wandb_V_1",
    });
    await page.reload();
    await page.getByLabel("Namespace").selectOption("team-a");
    await page.getByRole("cell", { name: "wandb" }).waitFor();
    expect(await page.getByRole("cell", { name: "Hugging Face token" }).count()).toBe(0);
    expect(new URL(page.url()).searchParams.get("ns")).toBe("team-a");
    expect(await page.getByLabel("Namespace").locator("option").allInnerTexts()).toEqual([
      "default (1)",
      "team-a (1)",
    ]);
    await page.getByLabel("Namespace").selectOption("default");
    await page.getByRole("cell", { name: "Hugging Face token" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "secrets.png") });

    const { key } = await api<{ key: string }>("POST", "/api-keys", { name: "viewer", role: "member" });
    const member = await signedIn(key);
    expect(await member.page.getByRole("link", { name: "Registration tokens" }).count()).toBe(0);
    await member.page.goto(`${url()}/ui/tokens`);
    await member.page.getByText("this operation needs an admin key").first().waitFor();
    await member.page.getByLabel("Name").fill("sneaky");
    await member.page.getByRole("button", { name: "Create token" }).click();
    await until(
      async () => (await member.page.getByText("this operation needs an admin key").count()) >= 2,
      30_000,
    );
    const tokens = await api<{ items: { name: string }[] }>("GET", "/registration-tokens");
    expect(tokens.items.map((t) => t.name)).not.toContain("sneaky");
    // Devices: a member reads them, without the admin actions.
    await member.page.getByRole("link", { name: "Devices", exact: true }).click();
    await member.page.locator("td .status.good", { hasText: "online" }).waitFor({ timeout: 30_000 });
    await member.page.locator("td button.link").first().click();
    await member.page.getByRole("heading", { name: "GPUs" }).waitFor();
    expect(await member.page.getByRole("button", { name: "Cordon" }).count()).toBe(0);
  }, 120_000);

  it("lists applications with their availability and shows one's per-device status and log", async () => {
    await api("POST", "/namespaces/default/applications", {
      name: "exporter",
      type: "process",
      scheduling: { type: "AllDevices" },
      spec: { containers: [{ name: "metrics", command: "echo serving metrics on :9400; exec sleep 600" }] },
    });
    const { page, errors } = await signedIn(admin);
    await page.getByRole("link", { name: "Applications" }).click();
    await page.getByRole("cell", { name: "1/1 available" }).waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(SHOTS, "applications.png") });
    await page.getByRole("link", { name: "exporter" }).click();
    await page.getByTestId("deployment-status").getByText("1 of 1 available").waitFor();
    await page.locator("td .status.good", { hasText: "running" }).first().waitFor();
    await page
      .getByRole("log", { name: "application log" })
      .getByText("metrics | serving metrics on :9400")
      .waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(SHOTS, "application.png") });
    expect(errors).toEqual([]);
    await api("DELETE", "/namespaces/default/applications/exporter");
    await until(
      async () =>
        (await api<{ items: unknown[] }>("GET", "/namespaces/default/applications")).items.length === 0,
      60_000,
    );
  }, 120_000);

  it("My lab: spawns from the menu with live progress, links to the lab, deletes it", async () => {
    const dir = await tempDir("dashboard-lab");
    const script = join(dir, "lab.js");
    await writeFile(
      script,
      'require("node:http").createServer((q, s) => s.end("lab ok")).listen(Number(process.env.BERTH_LAB_PORT), "0.0.0.0");\n',
    );
    await api("POST", "/profiles", {
      name: "small",
      displayName: "Small",
      limits: [
        { type: "cpuCount", value: "1" },
        { type: "memory", value: "512" },
      ],
    });
    await api("PUT", "/labs/config", {
      runtime: "process",
      command: `exec ${process.execPath} ${script}`,
      queues: [],
      sizes: ["small"],
      defaultSize: "small",
      images: {
        recommended: "/opt/venvs/lab-2026.07",
        menu: [
          { reference: "/opt/venvs/lab-2026.07", name: "July 2026" },
          { reference: "/opt/venvs/lab-2026.06", name: "June 2026" },
        ],
      },
    });
    const alice = (await api<{ key: string }>("POST", "/api-keys", { name: "alice", role: "member" })).key;
    const { page, errors } = await signedIn(alice);
    page.on("dialog", (d) => void d.accept());
    await page.getByRole("link", { name: "My lab" }).click();
    await page.getByText("You have no lab").waitFor();
    await page.getByLabel("Image").selectOption("/opt/venvs/lab-2026.06");
    expect(await page.getByLabel("Size").inputValue()).toBe("small");
    await page.getByRole("button", { name: "Spawn" }).click();
    const events = page.getByRole("list", { name: "lab events" });
    await events.getByText("Lab for alice is ready").waitFor({ timeout: 60_000 });
    expect((await events.innerText()).split("\n")[0]).toBe("1% Starting lab creation for alice");
    const link = page.getByRole("link", { name: "Open your lab" });
    await link.waitFor();
    const href = (await link.getAttribute("href"))!;
    expect(href).toMatch(/^http:\/\/[\d.]+:\d+\/\?token=[\w-]{43}$/);
    expect(await (await fetch(href)).text()).toBe("lab ok");
    expect(await page.getByLabel("your lab").innerText()).toContain("/opt/venvs/lab-2026.06");
    await page.screenshot({ path: join(SHOTS, "lab.png") });
    await page.getByRole("button", { name: "Delete lab" }).click();
    // The delete's progress shows while it runs (it may be over before the page looks again).
    await page.getByText("You have no lab").waitFor({ timeout: 30_000 });
    expect(await api<{ items: unknown[] }>("GET", "/labs")).toMatchObject({ items: [] });
    await page.getByRole("button", { name: "Spawn" }).waitFor();
    expect(errors).toEqual([]);
  }, 120_000);

  it("cordons a device and relabels it from its row, as an admin", async () => {
    const { page } = await signedIn(admin);
    await page.getByRole("link", { name: "Devices", exact: true }).click();
    await page.locator("td button.link").first().click();
    await page.getByRole("button", { name: "Cordon" }).click();
    await page.getByRole("button", { name: "Uncordon" }).waitFor({ timeout: 30_000 });
    await page.getByLabel("Labels", { exact: true }).fill("rack=7 team-");
    await page.getByRole("button", { name: "Relabel" }).click();
    const devices = () =>
      api<{ items: { labels: Record<string, string>; scheduling: string }[] }>("GET", "/devices");
    await until(async () => (await devices()).items[0]?.labels.rack === "7", 30_000);
    expect((await devices()).items[0]).toMatchObject({ labels: { rack: "7" }, scheduling: "cordoned" });
    expect((await devices()).items[0]!.labels).not.toHaveProperty("team");
    // A bad label is refused with the API's message, and nothing changes.
    await page.getByLabel("Labels", { exact: true }).fill("bad!key=x");
    await page.getByRole("button", { name: "Relabel" }).click();
    await page.getByRole("alert").first().waitFor();
    expect((await devices()).items[0]!.labels).toEqual({ rack: "7" });
  }, 120_000);

  it("shows a device's GPU health with its problem and suggested action, and sets it healthy", async () => {
    // A second machine, whose GPU 0 fell off the bus (a GPUd-format kernel log line).
    const machine = await fakeGpuMachine(
      "3,3,3000,-;NVRM: Xid (PCI:0000:18:00): 79, pid=0, name=, GPU has fallen off the bus.\n",
    );
    const { token } = await api<{ token: string }>("POST", "/registration-tokens", { name: "sick" });
    const sick = startAgentProcess(
      [
        "--endpoint",
        url(),
        "--data-dir",
        await mkdtemp(join(tmpdir(), "berth-agent-")),
        "--runtime",
        "process",
      ],
      { BERTH_TOKEN: token, ...machine.env },
    );
    try {
      const unhealthy = () =>
        api<{ items: { id: string; name: string }[] }>("GET", "/devices?health=Unhealthy");
      await until(async () => (await unhealthy()).items.length === 1, 60_000);
      const device = (await unhealthy()).items[0]!;
      const { page } = await signedIn(admin);
      page.on("dialog", (d) => void d.accept());
      await page.getByRole("link", { name: "Devices", exact: true }).click();
      await page.getByLabel("Health").selectOption("Unhealthy");
      await page.getByRole("button", { name: device.name }).click();
      const problems = page.getByRole("table", { name: "health problems" });
      await problems.waitFor({ timeout: 30_000 });
      expect(await problems.innerText()).toContain("accelerator-nvidia-error-xid");
      expect(await problems.innerText()).toContain("REBOOT_SYSTEM");
      expect(await page.getByText("(no new work is placed on it)").count()).toBe(1);
      await page.screenshot({ path: join(SHOTS, "device-health.png"), fullPage: true });
      await page.getByRole("button", { name: "Set healthy" }).click();
      await until(async () => (await unhealthy()).items.length === 0, 60_000);
    } finally {
      await sick.stop("SIGKILL");
    }
  }, 180_000);
});
