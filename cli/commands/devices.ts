import type { Command } from "commander";
import type { DeviceView } from "../../shared/contracts/devices.ts";
import { collect, labelText } from "../args.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { CliError } from "../errors.ts";
import { ago, type Column, printObject, printRows } from "../output.ts";

const columns: Column<DeviceView>[] = [
  { header: "ID", value: (d) => d.id },
  { header: "NAME", value: (d) => d.name },
  { header: "GROUP", value: (d) => d.nodeGroup },
  { header: "STATUS", value: (d) => d.status },
  { header: "GPUS", value: (d) => `${d.allocated.gpus}/${d.resources.gpus}` },
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
    .action(async (o: { label?: string[]; nodeGroup?: string; status?: string; search?: string }) => {
      const client = resolveClient(globals(), process.env);
      const items = await client.listAll<DeviceView>("/devices", {
        label: o.label,
        nodeGroup: o.nodeGroup,
        status: o.status,
        search: o.search,
      });
      printRows(outputFormat(globals()), items, columns);
    });

  devices.command("get <id>").action(async (id: string) => {
    const client = resolveClient(globals(), process.env);
    printObject(outputFormat(globals()), await client.request<DeviceView>("GET", path(id)));
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
    .command("delete <id>")
    .description("delete a device; its agent is signed out and stops")
    .action(async (id: string) => {
      const client = resolveClient(globals(), process.env);
      await client.request("DELETE", path(id));
      process.stdout.write(`Deleted device ${id}; its session is revoked.\n`);
    });
}
