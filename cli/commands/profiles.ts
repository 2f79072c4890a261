import type { Command } from "commander";
import type { ProfileView } from "../../shared/contracts/profiles.ts";
import { collect, wholeNumber } from "../args.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { type Column, printObject, printRows } from "../output.ts";

const columns: Column<ProfileView>[] = [
  { header: "NAME", value: (p) => p.name },
  { header: "DISPLAY NAME", value: (p) => p.displayName || undefined },
  {
    header: "GPUS",
    value: (p) => (p.gpus ? `${p.gpus.count}${p.gpus.type ? ` × ${p.gpus.type}` : ""}` : undefined),
  },
  { header: "QUEUE", value: (p) => p.queue },
  { header: "CLOUD", value: (p) => p.cloudLauncher },
  {
    header: "CONSTRAINTS",
    value: (p) =>
      p.placementConstraints.map((c) => (c.value ? `${c.name}=${c.value}` : c.name)).join(",") || undefined,
  },
];

interface ProfileOptions {
  displayName?: string;
  gpus?: string;
  gpuType?: string;
  queue?: string;
  constraint?: string[];
  limit?: string[];
  cloudLauncher?: string;
}

function body(o: ProfileOptions) {
  const count = o.gpus === undefined ? undefined : (wholeNumber(o.gpus, "--gpus") ?? 0);
  return {
    displayName: o.displayName,
    ...(count !== undefined || o.gpuType
      ? { gpus: { count: count ?? 1, ...(o.gpuType ? { type: o.gpuType } : {}) } }
      : {}),
    queue: o.queue,
    cloudLauncher: o.cloudLauncher,
    placementConstraints: o.constraint?.map((c) => {
      const eq = c.indexOf("=");
      return eq === -1 ? { name: c } : { name: c.slice(0, eq), value: c.slice(eq + 1) };
    }),
    limits: o.limit?.map((l) => {
      const eq = l.indexOf("=");
      return { type: l.slice(0, eq), value: l.slice(eq + 1) };
    }),
  };
}

/** `berth profiles create|list|get|update|delete` */
export function profilesCommand(program: Command) {
  const profiles = program.command("profiles").description("resource profiles: named job sizes");
  const globals = () => program.opts<GlobalOptions>();
  const client = () => resolveClient(globals(), process.env);
  const path = (name: string) => `/profiles/${encodeURIComponent(name)}`;
  const options = (cmd: Command) =>
    cmd
      .option("--display-name <text>")
      .option("--gpus <n>", "GPUs per job")
      .option("--gpu-type <type>", "GPU product")
      .option("--queue <group>", "node group its jobs run in")
      .option("--constraint <name[=value]>", "placement constraint (repeatable)", collect)
      .option("--limit <type=value>", "resource limit, e.g. memory=64Gi (repeatable)", collect)
      .option("--cloud-launcher <ecs|eks>", "cloud capacity its jobs use when they go to the cloud");

  options(profiles.command("create <name>")).action(async (name: string, o: ProfileOptions) => {
    printObject(
      outputFormat(globals()),
      await client().request<ProfileView>("POST", "/profiles", { body: { name, ...body(o) } }),
    );
  });
  profiles.command("list").action(async () => {
    printRows(outputFormat(globals()), await client().listAll<ProfileView>("/profiles"), columns);
  });
  profiles.command("get <name>").action(async (name: string) => {
    printObject(outputFormat(globals()), await client().request<ProfileView>("GET", path(name)));
  });
  options(profiles.command("update <name>")).action(async (name: string, o: ProfileOptions) => {
    printObject(
      outputFormat(globals()),
      await client().request<ProfileView>("PATCH", path(name), { body: body(o) }),
    );
  });
  profiles.command("delete <name>").action(async (name: string) => {
    await client().request("DELETE", path(name));
    process.stdout.write(`Deleted profile ${name}.\n`);
  });
}
