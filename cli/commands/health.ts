import type { Command } from "commander";
import type { DeviceOperationView } from "../../shared/contracts/devices.ts";
import { parseDuration } from "../../shared/domain/duration.ts";
import type { HealthEvent, HealthSettings, HealthState } from "../../shared/domain/gpu-health.ts";
import { collect } from "../args.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { CliError } from "../errors.ts";
import { ago, type Column, printObject, printRows } from "../output.ts";

interface DeviceHealth {
  deviceId: string;
  summary: {
    state: string;
    reason: string;
    source: string;
    updatedAt: string;
    unhealthyGpus: number[];
  } | null;
  report: {
    collectedAt: string;
    states: { component: string; states: HealthState[] }[];
    gpus: { index: number; uuid?: string; health: string; components: string[] }[];
  } | null;
}

type Row = { component: string; state: HealthState };
const componentColumns: Column<Row>[] = [
  { header: "COMPONENT", value: (r) => r.component },
  { header: "HEALTH", value: (r) => r.state.health },
  { header: "ACTION", value: (r) => r.state.suggested_actions?.repair_actions.join(",") || undefined },
  { header: "REASON", value: (r) => r.state.reason || undefined },
];
const gpuColumns: Column<NonNullable<DeviceHealth["report"]>["gpus"][number]>[] = [
  { header: "GPU", value: (g) => g.index },
  { header: "UUID", value: (g) => g.uuid },
  { header: "HEALTH", value: (g) => g.health },
  { header: "COMPONENTS", value: (g) => g.components.join(",") || undefined },
];
const eventColumns: Column<HealthEvent>[] = [
  { header: "TIME", value: (e) => e.time },
  { header: "COMPONENT", value: (e) => e.component },
  { header: "TYPE", value: (e) => e.type },
  { header: "NAME", value: (e) => e.name },
  { header: "MESSAGE", value: (e) => e.message || undefined },
];

/** `berth devices health <id>` and `berth devices set-healthy <id>` (specs/gpu-health.md §5). */
export function deviceHealthCommands(devices: Command, globals: () => GlobalOptions) {
  const path = (id: string) => `/devices/${encodeURIComponent(id)}/health`;
  devices
    .command("health <id>")
    .description("a device's GPU health: its components, GPUs and (with --events) its events")
    .option("--events", "list its health events instead (Xids, reboots), newest first")
    .option("--since <duration>", "with --events: only the last 24h, 30m, ...")
    .option("--component <name>", "with --events: only this component's")
    .option("--type <type>", "with --events: Fatal, Critical, Warning, Info or Unknown")
    .action(
      async (id: string, o: { events?: boolean; since?: string; component?: string; type?: string }) => {
        const client = resolveClient(globals(), process.env);
        const format = outputFormat(globals());
        if (o.events) {
          const seconds = o.since === undefined ? undefined : parseDuration(o.since);
          if (o.since !== undefined && seconds === undefined)
            throw new CliError(`--since ${o.since}: expected a duration such as 24h or 30m`, 2);
          const since =
            seconds === undefined ? undefined : new Date(Date.now() - seconds * 1000).toISOString();
          const items = await client.listAll<HealthEvent>(`${path(id)}/events`, {
            since,
            component: o.component,
            type: o.type,
          });
          return printRows(format, items, eventColumns);
        }
        const h = await client.request<DeviceHealth>("GET", path(id));
        if (format === "json") return printObject("json", h as unknown as Record<string, unknown>);
        if (!h.summary || !h.report) {
          process.stdout.write(
            `device ${id} has not reported GPU health (its agent runs with --health off, or has no nvidia-smi)\n`,
          );
          return;
        }
        process.stdout.write(
          `${h.summary.state}${h.summary.reason ? `: ${h.summary.reason}` : ""} (reported ${ago(h.summary.updatedAt)} ago, by ${h.summary.source})\n\n`,
        );
        printRows(
          format,
          h.report.states.flatMap((c) => c.states.map((state) => ({ component: c.component, state }))),
          componentColumns,
        );
        if (h.report.gpus.length) {
          process.stdout.write("\n");
          printRows(format, h.report.gpus, gpuColumns);
        }
      },
    );

  devices
    .command("set-healthy <id>")
    .description("tell the device's agent to forget a component's events up to now (after a repair)")
    .option("--component <name>", "only this component (repeatable; default: every settable one)", collect)
    .action(async (id: string, o: { component?: string[] }) => {
      const client = resolveClient(globals(), process.env);
      const op = await client.request<DeviceOperationView>("POST", `${path(id)}/set-healthy`, {
        body: o.component?.length ? { components: o.component } : {},
      });
      if (outputFormat(globals()) === "json") return printObject("json", op);
      process.stdout.write(
        `set-healthy ${op.id} sent to device ${id}; its agent reports again once it takes it\n` +
          `follow it: berth devices operations ${id}; then berth devices health ${id}\n`,
      );
    });
}

interface Xid {
  code: number;
  [k: string]: unknown;
}

/** `berth health xid <code>|xids|settings` */
export function healthCommand(program: Command) {
  const health = program.command("health").description("GPU health: the Xid catalog and placement settings");
  const globals = () => program.opts<GlobalOptions>();
  health
    .command("xid <code>")
    .description("what an NVIDIA Xid means, and what GPUd's rules do with it")
    .action(async (code: string) => {
      if (!/^\d+$/.test(code)) throw new CliError(`Xid ${code}: expected a number such as 79`, 2);
      const client = resolveClient(globals(), process.env);
      printObject(outputFormat(globals()), await client.request<Xid>("GET", `/health/xids/${code}`));
    });
  health
    .command("xids")
    .description("the whole Xid catalog")
    .action(async () => {
      const client = resolveClient(globals(), process.env);
      const { items } = await client.request<{ items: Xid[] }>("GET", "/health/xids");
      printRows(outputFormat(globals()), items, xidColumns);
    });
  const settings = health.command("settings").description("how placement treats GPU health");
  settings.command("get").action(async () => {
    const client = resolveClient(globals(), process.env);
    printObject(outputFormat(globals()), await client.request<HealthSettings>("GET", "/health/settings"));
  });
  settings
    .command("set")
    .requiredOption("--placement <mode>", "exclude-unhealthy (skip Unhealthy GPUs) or ignore")
    .action(async (o: { placement: string }) => {
      const client = resolveClient(globals(), process.env);
      printObject(
        outputFormat(globals()),
        await client.request<HealthSettings>("PUT", "/health/settings", { body: { placement: o.placement } }),
      );
    });
}

const xidColumns: Column<Xid>[] = [
  { header: "XID", value: (x) => x.code },
  { header: "TYPE", value: (x) => String(x.type ?? "") },
  {
    header: "ACTIONS",
    value: (x) => (Array.isArray(x.repairActions) ? x.repairActions.join(",") : undefined),
  },
  { header: "DESCRIPTION", value: (x) => String(x.description ?? x.name ?? "") },
];
