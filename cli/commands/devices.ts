import type { Command } from "commander";
import type { DeviceApplicationView } from "../../shared/contracts/applications.ts";
import type { DeviceOperationView, DeviceView } from "../../shared/contracts/devices.ts";
import { parseDuration } from "../../shared/domain/duration.ts";
import { collect, labelText } from "../args.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { CliError } from "../errors.ts";
import { ago, type Column, printObject, printRows } from "../output.ts";
import { deploymentColumns } from "./apps.ts";
import { deviceHealthCommands } from "./health.ts";

const operationColumns: Column<DeviceOperationView>[] = [
  { header: "ID", value: (o) => o.id },
  { header: "ACTION", value: (o) => o.action },
  { header: "STATE", value: (o) => o.state },
  { header: "ISSUED", value: (o) => ago(o.issuedAt) },
  { header: "BY", value: (o) => o.issuedBy },
  { header: "MESSAGE", value: (o) => o.message || o.reason || undefined },
];

const appColumns = deploymentColumns<DeviceApplicationView>([
  { header: "NAMESPACE", value: (d) => d.namespace },
  { header: "APPLICATION", value: (d) => d.name },
]);

const columns: Column<DeviceView>[] = [
  { header: "ID", value: (d) => d.id },
  { header: "NAME", value: (d) => d.name },
  { header: "GROUP", value: (d) => d.nodeGroup },
  // kubectl's style: online,cordoned / online,draining
  {
    header: "STATUS",
    value: (d) => (d.scheduling === "eligible" ? d.status : `${d.status},${d.scheduling}`),
  },
  { header: "GPUS", value: (d) => `${d.allocated.gpus}/${d.resources.gpus}` },
  {
    header: "HEALTH",
    value: (d) =>
      d.health
        ? `${d.health.state}${d.health.unhealthyGpus.length ? ` (GPU ${d.health.unhealthyGpus.join(",")})` : ""}`
        : undefined,
  },
  { header: "LABELS", value: (d) => labelText(d.labels) || undefined },
  { header: "LAST SEEN", value: (d) => ago(d.lastSeenAt) },
  { header: "PROTOCOL", value: (d) => d.protocol },
];

/** kubectl-style label edits: `key=value` sets, `key-` removes. */
export function applyLabelEdits(current: Record<string, string>, edits: string[]): Record<string, string> {
  const next = { ...current };
  for (const edit of edits) {
    if (edit.endsWith("-") && !edit.includes("=")) delete next[edit.slice(0, -1)];
    else {
      const eq = edit.indexOf("=");
      if (eq <= 0) throw new CliError(`label "${edit}": expected key=value, or key- to remove it`, 2);
      next[edit.slice(0, eq)] = edit.slice(eq + 1);
    }
  }
  return next;
}

/** `berth devices list|get|label|rename|delete` */
export function devicesCommand(program: Command) {
  const devices = program.command("devices").description("the machines of your fleet");
  const globals = () => program.opts<GlobalOptions>();
  const path = (id: string) => `/devices/${encodeURIComponent(id)}`;

  devices
    .command("list")
    .description("list devices")
    .option("-l, --label <key=value>", "only devices with this label (repeatable; all must match)", collect)
    .option("--node-group <name>")
    .option("--status <status>", "online or offline")
    .option("--search <text>", "substring of name, hostname or id")
    .option("--health <state>", "Healthy, Degraded, Unhealthy, Initializing or Unknown")
    .action(
      async (o: {
        label?: string[];
        nodeGroup?: string;
        status?: string;
        search?: string;
        health?: string;
      }) => {
        const client = resolveClient(globals(), process.env);
        const items = await client.listAll<DeviceView>("/devices", {
          label: o.label,
          nodeGroup: o.nodeGroup,
          status: o.status,
          search: o.search,
          health: o.health,
        });
        printRows(outputFormat(globals()), items, columns);
      },
    );

  deviceHealthCommands(devices, globals);

  devices.command("get <id>").action(async (id: string) => {
    const client = resolveClient(globals(), process.env);
    printObject(outputFormat(globals()), await client.request<DeviceView>("GET", path(id)));
  });

  devices
    .command("apps <id>")
    .description("the applications deployed on a device, with their state there")
    .action(async (id: string) => {
      const client = resolveClient(globals(), process.env);
      const { items } = await client.request<{ items: DeviceApplicationView[] }>(
        "GET",
        `${path(id)}/applications`,
      );
      printRows(outputFormat(globals()), items, appColumns);
    });

  devices
    .command("reboot <id>")
    .description(
      "reboot a device (its agent must run with --allow-reboot); refused while it runs jobs unless --force",
    )
    .option("--reason <text>", "why (kept with the operation)")
    .option("--force", "reboot even though it runs jobs (they fail)")
    .action(async (id: string, o: { reason?: string; force?: boolean }) => {
      const client = resolveClient(globals(), process.env);
      const op = await client.request<DeviceOperationView>("POST", `${path(id)}/reboot`, {
        query: o.force ? { force: "true" } : {},
        body: { reason: o.reason ?? "" },
      });
      if (outputFormat(globals()) === "json") return printObject("json", op);
      process.stdout.write(
        `reboot ${op.id} sent to device ${id}; it happens when the device takes it (before ${op.expiresAt}), if its agent allows reboots\n` +
          `follow it: berth devices operations ${id}\n`,
      );
    });

  devices
    .command("operations <id>")
    .description("a device's operations (reboots) and how they went")
    .action(async (id: string) => {
      const client = resolveClient(globals(), process.env);
      const { items } = await client.request<{ items: DeviceOperationView[] }>(
        "GET",
        `${path(id)}/operations`,
      );
      printRows(outputFormat(globals()), items, operationColumns);
    });

  devices
    .command("label <id> <edits...>")
    .description("set labels (key=value) or remove them (key-)")
    .action(async (id: string, edits: string[]) => {
      const client = resolveClient(globals(), process.env);
      const current = await client.request<DeviceView>("GET", path(id));
      const updated = await client.request<DeviceView>("PATCH", path(id), {
        body: { labels: applyLabelEdits(current.labels, edits) },
      });
      printObject(outputFormat(globals()), { id: updated.id, labels: updated.labels });
    });

  devices.command("rename <id> <name>").action(async (id: string, name: string) => {
    const client = resolveClient(globals(), process.env);
    const updated = await client.request<DeviceView>("PATCH", path(id), { body: { name } });
    printObject(outputFormat(globals()), { id: updated.id, name: updated.name });
  });

  devices
    .command("move <id> <node-group>")
    .description("move a device to another node group")
    .action(async (id: string, nodeGroup: string) => {
      const client = resolveClient(globals(), process.env);
      const updated = await client.request<DeviceView>("PATCH", path(id), { body: { nodeGroup } });
      printObject(outputFormat(globals()), { id: updated.id, nodeGroup: updated.nodeGroup });
    });

  for (const [verb, description] of [
    ["cordon", "no new jobs on this device; its running jobs carry on"],
    ["uncordon", "new jobs may be placed on this device again (ends a drain)"],
  ] as const) {
    devices
      .command(`${verb} <id>`)
      .description(description)
      .action(async (id: string) => {
        const client = resolveClient(globals(), process.env);
        const d = await client.request<DeviceView>("POST", `${path(id)}/${verb}`);
        printObject(outputFormat(globals()), { id: d.id, scheduling: d.scheduling });
      });
  }

  devices
    .command("drain <id>")
    .description("no new jobs; running jobs may finish until the deadline, then they are stopped")
    .option("--deadline <duration>", "how long running jobs may go on, e.g. 30m, 2h (0: stop them now)", "1h")
    .action(async (id: string, o: { deadline: string }) => {
      const deadlineSeconds = parseDuration(o.deadline);
      if (deadlineSeconds === undefined)
        throw new CliError(`--deadline: "${o.deadline}" is not a duration like 30m or 2h`, 2);
      const client = resolveClient(globals(), process.env);
      const d = await client.request<DeviceView>("POST", `${path(id)}/drain`, { body: { deadlineSeconds } });
      printObject(outputFormat(globals()), {
        id: d.id,
        scheduling: d.scheduling,
        ...(d.drain ? { deadline: d.drain.deadline } : {}),
        jobs: d.held.jobs,
      });
    });

  devices
    .command("delete <id>")
    .description("delete a device; its agent is signed out and stops")
    .action(async (id: string) => {
      const client = resolveClient(globals(), process.env);
      await client.request("DELETE", path(id));
      process.stdout.write(`Deleted device ${id}; its session is revoked.\n`);
    });
}
