import type { Command } from "commander";
import type { NodeGroupView } from "../../shared/contracts/node-groups.ts";
import { collect, labelText, pairs } from "../args.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { type Column, printObject, printRows } from "../output.ts";

const columns: Column<NodeGroupView>[] = [
  { header: "NAME", value: (g) => g.name },
  { header: "DEVICES", value: (g) => g.deviceCount },
  { header: "LABELS", value: (g) => labelText(g.labels) || undefined },
  { header: "DESCRIPTION", value: (g) => g.description || undefined },
];

/** `berth node-groups create|list|get|update|delete` */
export function nodeGroupsCommand(program: Command) {
  const groups = program.command("node-groups").description("named sets of devices (admin)");
  const globals = () => program.opts<GlobalOptions>();
  const path = (name: string) => `/node-groups/${encodeURIComponent(name)}`;

  groups
    .command("create <name>")
    .option("--description <text>")
    .option("--label <key=value>", "repeatable", collect)
    .action(async (name: string, o: { description?: string; label?: string[] }) => {
      const client = resolveClient(globals(), process.env);
      const group = await client.request<NodeGroupView>("POST", "/node-groups", {
        body: { name, description: o.description, labels: pairs(o.label, "--label") },
      });
      printObject(outputFormat(globals()), group);
    });

  groups.command("list").action(async () => {
    const client = resolveClient(globals(), process.env);
    printRows(outputFormat(globals()), await client.listAll<NodeGroupView>("/node-groups"), columns);
  });

  groups.command("get <name>").action(async (name: string) => {
    const client = resolveClient(globals(), process.env);
    printObject(outputFormat(globals()), await client.request<NodeGroupView>("GET", path(name)));
  });

  groups
    .command("update <name>")
    .option("--description <text>")
    .option("--label <key=value>", "the complete new label set (repeatable)", collect)
    .action(async (name: string, o: { description?: string; label?: string[] }) => {
      const client = resolveClient(globals(), process.env);
      const group = await client.request<NodeGroupView>("PATCH", path(name), {
        body: { description: o.description, labels: pairs(o.label, "--label") },
      });
      printObject(outputFormat(globals()), group);
    });

  groups
    .command("delete <name>")
    .description("delete an empty group")
    .action(async (name: string) => {
      const client = resolveClient(globals(), process.env);
      await client.request("DELETE", path(name));
      process.stdout.write(`Deleted node group ${name}.\n`);
    });
}
