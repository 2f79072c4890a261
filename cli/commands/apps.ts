import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import type { ApplicationView, DeploymentView } from "../../shared/contracts/applications.ts";
import { collect, pairs } from "../args.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { CliError } from "../errors.ts";
import { ago, type Column, printObject, printRows } from "../output.ts";
import { followSse } from "../sse.ts";

const columns: Column<ApplicationView>[] = [
  { header: "NAME", value: (a) => a.name },
  { header: "TYPE", value: (a) => a.type },
  { header: "VERSION", value: (a) => a.version },
  { header: "AVAILABLE", value: (a) => `${a.deploymentStatus.available}/${a.deploymentStatus.total}` },
  { header: "FAILED", value: (a) => a.deploymentStatus.failed || undefined },
  { header: "STATUS", value: (a) => a.status },
  { header: "UPDATED", value: (a) => ago(a.updatedAt) },
];

/** A deployment's columns (its application's, or its device's, go in front). */
export const deploymentColumns = <D extends DeploymentView>(first: Column<D>[]): Column<D>[] => [
  ...first,
  { header: "STATE", value: (d) => d.state },
  { header: "VERSION", value: (d) => d.version },
  {
    header: "CONTAINERS",
    value: (d) => d.containers.map((c) => `${c.name}:${c.state}`).join(",") || undefined,
  },
  { header: "RESTARTS", value: (d) => d.containers.reduce((n, c) => n + c.restartCount, 0) },
  { header: "MESSAGE", value: (d) => d.message || undefined },
];

/** An application spec file: YAML (or JSON, which is YAML), as `POST .../applications` takes it. */
interface CreateFlags {
  namespace: string;
  file?: string;
  type?: string;
  image?: string;
  command?: string;
  selector?: string[];
  allDevices?: boolean;
  nodeGroup?: string[];
  env?: string[];
  envSecret?: string[];
  secretFile?: string[];
  port?: string[];
  volume?: string[];
  gpus?: string;
  network?: string;
  restart?: string;
  maxUnavailable?: string;
}

/** `berth apps create <name> --image ... [-- args]`: an application of one container, `main`. */
export function applicationFromFlags(
  name: string | undefined,
  args: string[],
  o: CreateFlags,
): Record<string, unknown> {
  if (!name)
    throw new CliError("name the application (berth apps create <name> --image ...), or give -f FILE", 2);
  if (!o.image && !o.command)
    throw new CliError("give --image (a container), --command (with --type process), or -f FILE", 2);
  const selectors = pairs(o.selector, "--selector");
  if (selectors && o.allDevices) throw new CliError("give --selector or --all-devices, not both", 2);
  const env = Object.entries(pairs(o.env, "--env") ?? {}).map(([k, value]) => ({ name: k, value }));
  const fromSecret = Object.entries(pairs(o.envSecret, "--env-secret") ?? {}).map(([k, secret]) => ({
    name: k,
    fromSecret: secret,
  }));
  const secrets = (o.secretFile ?? []).map((item) => {
    const colon = item.indexOf(":");
    if (colon <= 0) throw new CliError(`--secret-file "${item}": expected secret:path`, 2);
    return { name: item.slice(0, colon), filepath: item.slice(colon + 1) };
  });
  const restart = o.restart?.match(/^([a-z-]+)(?::(\d+))?$/);
  if (o.restart && !restart)
    throw new CliError(`--restart "${o.restart}": expected a policy such as on-failure:3`, 2);
  const gpus = o.gpus === undefined ? undefined : o.gpus === "all" ? "all" : { count: Number(o.gpus) };
  if (gpus && gpus !== "all" && !(Number.isInteger(gpus.count) && gpus.count > 0))
    throw new CliError(`--gpus "${o.gpus}": expected all or a number of GPUs`, 2);
  const max = o.maxUnavailable;
  return {
    name,
    ...(o.type ? { type: o.type } : {}),
    scheduling: {
      ...(o.allDevices ? { type: "AllDevices" } : selectors ? { type: "Conditional", selectors } : {}),
      ...(o.nodeGroup ? { nodeGroups: o.nodeGroup } : {}),
    },
    spec: {
      containers: [
        {
          name: "main",
          ...(o.image ? { image: o.image } : {}),
          ...(o.command ? { command: o.command } : {}),
          args,
          env: [...env, ...fromSecret],
          secrets,
          ports: o.port ?? [],
          ...(o.volume ? { volumes: o.volume } : {}),
          ...(gpus ? { gpus } : {}),
          ...(o.network ? { networkMode: o.network } : {}),
          ...(restart
            ? {
                restartPolicy: {
                  name: restart[1],
                  ...(restart[2] !== undefined ? { maximumRetryCount: Number(restart[2]) } : {}),
                },
              }
            : {}),
        },
      ],
    },
    ...(max ? { rollout: { maxUnavailable: /^\d+$/.test(max) ? Number(max) : max } } : {}),
  };
}

/** A YAML or JSON mapping from a file; a syntax error names file:line:col, `what` says what it must hold. */
export async function specFile(
  path: string,
  what = "an application spec is a mapping (name, scheduling, spec.containers)",
): Promise<Record<string, unknown>> {
  const text = await readFile(path, "utf8").catch((err: Error) => {
    throw new CliError(`cannot read ${path}: ${err.message}`);
  });
  const { parseDocument } = await import("yaml");
  const doc = parseDocument(text);
  const error = doc.errors[0];
  if (error) {
    const at = error.linePos?.[0];
    throw new CliError(`${path}${at ? `:${at.line}:${at.col}` : ""}: ${error.message.split("\n")[0]}`, 2);
  }
  const value = doc.toJS() as unknown;
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new CliError(`${path}: ${what}`, 2);
  return value as Record<string, unknown>;
}

type LogLine = { stream: "stdout" | "stderr"; container?: string; data: string };

/**
 * Writes log lines to stdout or stderr as their stream says; with `prefix`, each line starts with its
 * container's name (`server | ...`), as `docker compose logs` does, a line cut across chunks prefixed once.
 */
type Sink = { write(text: string): unknown };
export function linePrinter(prefix: boolean, out: Sink = process.stdout, err: Sink = process.stderr) {
  const midLine = new Set<string>();
  return (line: LogLine) => {
    const to = line.stream === "stderr" ? err : out;
    if (!prefix || !line.container) return void to.write(line.data);
    const key = `${line.container}\n${line.stream}`;
    const tag = `${line.container} | `;
    const parts = line.data.split("\n");
    const text = parts
      .map((part, i) =>
        (i === 0 && midLine.has(key)) || (i === parts.length - 1 && part === "") ? part : tag + part,
      )
      .join("\n");
    if (line.data.endsWith("\n")) midLine.delete(key);
    else midLine.add(key);
    to.write(text);
  };
}

/** `berth apps create|update|list|get|status|logs|restart|delete` */
export function appsCommand(program: Command) {
  const apps = program
    .command("apps")
    .description("applications: long-running workloads on every matching device");
  const globals = () => program.opts<GlobalOptions>();
  const client = () => resolveClient(globals(), process.env);
  const base = (ns: string) => `/namespaces/${encodeURIComponent(ns)}/applications`;
  const path = (ns: string, app: string) => `${base(ns)}/${encodeURIComponent(app)}`;
  const ns = (cmd: Command) => cmd.option("-n, --namespace <ns>", "namespace", "default");

  ns(
    apps
      .command("create [name] [args...]")
      .description(
        "create an application (admin): from a spec file (-f), or one container from flags (--image, or --command with --type process); arguments after -- go to it",
      ),
  )
    .option("-f, --file <path>", "the application, as YAML or JSON")
    .option("--type <type>", "container (default) or process")
    .option("--image <image>", "the container's image")
    .option("--command <cmd>", "a shell command to run (sh -c)")
    .option(
      "-l, --selector <key=value>",
      "only devices with this label (repeatable; all must match)",
      collect,
    )
    .option("--all-devices", "every device of the workspace")
    .option("--node-group <name>", "only devices of this node group (repeatable)", collect)
    .option("-e, --env <NAME=value>", "environment variable (repeatable)", collect)
    .option(
      "--env-secret <NAME=secret>",
      "an Environment secret of the namespace as this variable (repeatable)",
      collect,
    )
    .option(
      "--secret-file <secret:path>",
      "a File secret of the namespace at this path (repeatable)",
      collect,
    )
    .option("-p, --port <host:container>", "published port (repeatable)", collect)
    .option("-v, --volume </host:/ctr[:ro|rw]>", "host directory (repeatable)", collect)
    .option("--gpus <all|N>", "every GPU (shared), or N claimed on each device")
    .option("--network <mode>", "bridge (default), host or isolated")
    .option("--restart <policy>", "always (default), unless-stopped, on-failure[:N] or no")
    .option("--max-unavailable <n|N%>", "devices updated at once (default 100%)")
    .action(async (name: string | undefined, args: string[], o: CreateFlags) => {
      const body = o.file
        ? { ...(await specFile(o.file)), ...(name ? { name } : {}) }
        : applicationFromFlags(name, args, o);
      const app = await client().request<ApplicationView>("POST", base(o.namespace), { body });
      printObject(outputFormat(globals()), app);
    });

  ns(
    apps
      .command("update <app>")
      .description(
        "change an application from a spec file, or one container's image (--image): a new version (admin)",
      ),
  )
    .option("-f, --file <path>", "the application, as YAML or JSON")
    .option("--image <image>", "the new image of its container (with --container when it has several)")
    .option("--container <name>", "the container --image is for")
    .option("--expected-version <n>", "refuse unless it is still at this version")
    .action(
      async (
        name: string,
        o: { file?: string; image?: string; container?: string; namespace: string; expectedVersion?: string },
      ) => {
        if (!o.file === !o.image) throw new CliError("give -f FILE or --image IMAGE (one of them)", 2);
        let patch: Record<string, unknown>;
        let expected = o.expectedVersion ? Number(o.expectedVersion) : undefined;
        if (o.file) {
          const { name: _name, type: _type, ...fields } = await specFile(o.file);
          patch = fields;
        } else {
          // The spec as it is, one image changed; at the version read, so that a change between fails.
          const current = await client().request<ApplicationView>("GET", path(o.namespace, name));
          const containers = current.spec.containers;
          const target = o.container
            ? containers.find((c) => c.name === o.container)
            : containers.length === 1
              ? containers[0]
              : undefined;
          if (!target)
            throw new CliError(
              o.container
                ? `application ${name} has no container ${o.container} (it has ${containers.map((c) => c.name).join(", ")})`
                : `application ${name} has ${containers.length} containers: name one with --container`,
              2,
            );
          patch = {
            spec: { containers: containers.map((c) => (c === target ? { ...c, image: o.image } : c)) },
          };
          expected ??= current.version;
        }
        const app = await client().request<ApplicationView>("PATCH", path(o.namespace, name), {
          body: { ...patch, ...(expected ? { expectedVersion: expected } : {}) },
        });
        printObject(outputFormat(globals()), app);
      },
    );

  ns(apps.command("list")).action(async (o: { namespace: string }) => {
    printRows(outputFormat(globals()), await client().listAll<ApplicationView>(base(o.namespace)), columns);
  });

  ns(apps.command("get <app>")).action(async (name: string, o: { namespace: string }) => {
    printObject(
      outputFormat(globals()),
      await client().request<ApplicationView>("GET", path(o.namespace, name)),
    );
  });

  ns(apps.command("status <app>").description("its deployments, one per device"))
    .option("--state <state>", "only deployments in this state (e.g. failed)")
    .action(async (name: string, o: { namespace: string; state?: string }) => {
      const q = o.state ? `?state=${encodeURIComponent(o.state)}` : "";
      const { items } = await client().request<{ items: DeploymentView[] }>(
        "GET",
        `${path(o.namespace, name)}/deployments${q}`,
      );
      printRows(
        outputFormat(globals()),
        items,
        deploymentColumns([{ header: "DEVICE", value: (d) => d.deviceId }]),
      );
    });

  ns(apps.command("logs <app>").description("its output on one device (each line names its container)"))
    .requiredOption("--device <id>", "the device")
    .option("--container <name>", "one container only")
    .option("--stream <stream>", "stdout, stderr or mixed", "mixed")
    .option("--tail <n>", "the last N lines only")
    .option("-f, --follow", "go on printing lines as they come (Ctrl-C to stop)")
    .action(
      async (
        name: string,
        o: {
          namespace: string;
          device: string;
          container?: string;
          stream: string;
          tail?: string;
          follow?: boolean;
        },
      ) => {
        if (o.tail !== undefined && !/^\d+$/.test(o.tail))
          throw new CliError(`--tail takes a number of lines, not ${o.tail}`, 2);
        const at = `${path(o.namespace, name)}/devices/${encodeURIComponent(o.device)}/logs`;
        const query: Record<string, string> = {
          stream: o.stream,
          ...(o.container ? { container: o.container } : {}),
          ...(o.tail !== undefined ? { tail: o.tail } : {}),
        };
        const print = linePrinter(o.container === undefined);
        if (!o.follow) {
          const { output } = await client().request<{ output: LogLine[] }>("GET", at, { query });
          for (const line of output) print(line);
          return;
        }
        const say = (line: string) => process.stderr.write(`berth: ${line}\n`);
        for await (const e of followSse(
          client(),
          at,
          { ...query, follow: "true" },
          {
            onLost: (reason) =>
              say(`connection lost (${reason}); reconnecting, to resume where this left off`),
            onBack: () => say("reconnected"),
          },
        )) {
          if (e.event === "output") print(JSON.parse(e.data) as LogLine);
          if (e.event === "gone") {
            say(`the application was removed from device ${o.device}`);
            return;
          }
        }
      },
    );

  ns(apps.command("restart <app>").description("redeploy it everywhere (admin)")).action(
    async (name: string, o: { namespace: string }) => {
      const app = await client().request<ApplicationView>("POST", `${path(o.namespace, name)}/restart`);
      process.stdout.write(`application ${name} restarting (config version ${app.configVersion})\n`);
    },
  );

  ns(apps.command("delete <app>").description("remove it from every device, then delete it (admin)")).action(
    async (name: string, o: { namespace: string }) => {
      await client().request("DELETE", path(o.namespace, name));
      process.stdout.write(`application ${name} is being removed from its devices\n`);
    },
  );
}
