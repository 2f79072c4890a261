import type { Command } from "commander";
import type {
  LabConfigView,
  LabImages,
  LabOptionsView,
  LabQuotaView,
  LabView,
  PrepullerStatus,
} from "../../shared/contracts/labs.ts";
import { collect, pairs } from "../args.ts";
import type { ApiClient } from "../client.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { CliError } from "../errors.ts";
import { printObject, printRows } from "../output.ts";
import { followSse } from "../sse.ts";
import { specFile } from "./apps.ts";

type Kind = "lab" | "fileserver";
const base = (kind: Kind) => (kind === "lab" ? "/labs" : "/fileservers");

/** Who `[user]` is when it is left out: the key's own name. */
async function userOr(client: ApiClient, user: string | undefined): Promise<string> {
  if (user) return user;
  return (await client.request<{ name: string }>("GET", "/whoami")).name;
}

/**
 * Follows a lab's events (Nublado's SSE: info, error, failed, complete) to their end, with a progress bar on
 * a terminal (a line per event otherwise); true when it ended with `complete`.
 */
export async function followLabEvents(client: ApiClient, kind: Kind, user: string): Promise<boolean> {
  const tty = process.stderr.isTTY;
  let progress = 0;
  let error: string | undefined;
  const path = `${base(kind)}/${encodeURIComponent(user)}/events`;
  for await (const e of followSse(
    client,
    path,
    {},
    { onLost: (why) => process.stderr.write(`\n(${why}; reconnecting)\n`) },
  )) {
    const data = JSON.parse(e.data || "{}") as { message?: string; progress?: number };
    if (data.progress) progress = data.progress;
    const message = data.message ?? "";
    if (e.event === "error") error = message;
    if (tty) {
      const filled = Math.round(progress / 5);
      process.stderr.write(
        `\r\x1b[2K[${"#".repeat(filled)}${" ".repeat(20 - filled)}] ${String(progress).padStart(3)}% ${message.slice(0, 100)}`,
      );
    } else
      process.stderr.write(
        `${e.event === "info" ? `${String(progress).padStart(3)}%` : e.event} ${message}\n`,
      );
    if (e.event === "failed") {
      if (tty) process.stderr.write("\n");
      throw new CliError(`${message}${error ? `: ${error}` : ""}`, 1);
    }
    if (e.event === "complete") {
      if (tty) process.stderr.write("\n");
      return true;
    }
  }
  return false;
}

const labColumns = [
  { header: "USER", value: (l: LabView) => l.user.username },
  { header: "STATUS", value: (l: LabView) => l.status },
  { header: "IMAGE", value: (l: LabView) => l.options.image },
  { header: "SIZE", value: (l: LabView) => l.options.size },
  { header: "DEVICE", value: (l: LabView) => l.deviceId },
  { header: "PORT", value: (l: LabView) => l.hostPort },
  { header: "EXPIRES", value: (l: LabView) => l.expiresAt },
];

/**
 * `berth labs ...` (specs/labs.md §9): images, options, spawn (following its progress), status, events,
 * delete, list, prepulls; the config and quotas (admin).
 */
export function labsCommand(program: Command) {
  const labs = program
    .command("labs")
    .description("labs: one interactive session per user, from an image menu (spawn, status, delete, ...)");
  const globals = () => program.opts<GlobalOptions>();
  const client = () => resolveClient(globals(), process.env);
  const format = () => outputFormat(globals());

  labs
    .command("images")
    .description("the image menu: the recommended image first, then the menu images prepulled everywhere")
    .action(async () => {
      const images = await client().request<LabImages>("GET", "/labs/images");
      if (format() === "json") return printObject("json", images);
      const rows = [
        ...images.menu.map((i) => ({ ...i, where: i === images.menu[0] ? "recommended" : "menu" })),
        ...images.dropdown.map((i) => ({ ...i, where: "dropdown" })),
      ];
      printRows(format(), rows, [
        { header: "REFERENCE", value: (i) => i.reference },
        { header: "NAME", value: (i) => i.name },
        { header: "LIST", value: (i) => i.where },
        { header: "PREPULLED", value: (i) => (i.prepulled ? "yes" : "no") },
      ]);
    });
  labs
    .command("options")
    .description("what you may spawn: sizes (and which fit your quota), the default size, your quota")
    .action(async () => {
      const o = await client().request<LabOptionsView>("GET", "/labs/options");
      if (format() === "json") return printObject("json", o);
      printRows(format(), o.sizes, [
        { header: "SIZE", value: (s) => `${s.name}${s.name === o.defaultSize ? " (default)" : ""}` },
        { header: "NAME", value: (s) => s.displayName },
        { header: "CPU", value: (s) => s.cpu },
        { header: "MEMORY_GIB", value: (s) => s.memoryGiB },
        { header: "GPUS", value: (s) => s.gpus },
        { header: "FITS", value: (s) => (s.fits ? "yes" : "no (over your quota)") },
      ]);
      process.stdout.write(
        `\nquota: ${o.quota.cpu} CPUs, ${o.quota.memoryGiB} GiB, ${o.quota.gpus} GPUs${o.quota.spawn ? "" : ", spawning not permitted"}\nimages: ${o.images.menu.map((i) => i.reference).join(", ")}\n`,
      );
    });
  labs
    .command("spawn")
    .description(
      "spawn your lab (the recommended image and the default size unless told), follow its progress, print its URL",
    )
    .option("--image <reference>", "an image of the menu or the dropdown")
    .option("--image-class <class>", "recommended")
    .option("--tag <tag>", "a tag of the recommended image's repository")
    .option("--size <size>", "a lab size (default: the config's default size)")
    .option("--debug", "DEBUG=1 in the lab")
    .option("--reset-user-env", "RESET_USER_ENV=1 in the lab")
    .option("-e, --env <NAME=value>", "environment variable (repeatable)", collect)
    .option("-d, --detach", "print the lab and return, without following its progress")
    .action(
      async (o: {
        image?: string;
        imageClass?: string;
        tag?: string;
        size?: string;
        debug?: boolean;
        resetUserEnv?: boolean;
        env?: string[];
        detach?: boolean;
      }) => {
        const c = client();
        const size = o.size ?? (await c.request<LabOptionsView>("GET", "/labs/options")).defaultSize;
        const chosen = o.image || o.imageClass || o.tag;
        const options = {
          ...(o.image ? { imageList: o.image } : {}),
          ...(o.imageClass ? { imageClass: o.imageClass } : {}),
          ...(o.tag ? { imageTag: o.tag } : {}),
          ...(chosen ? {} : { imageClass: "recommended" }),
          size,
          enableDebug: o.debug ?? false,
          resetUserEnv: o.resetUserEnv ?? false,
        };
        const lab = await c.request<LabView>("POST", "/labs", {
          body: { options, env: pairs(o.env, "--env") ?? {} },
        });
        if (o.detach) return printObject(format(), lab);
        await followLabEvents(c, "lab", lab.user.username);
        const ready = await c.request<LabView>("GET", `/labs/${encodeURIComponent(lab.user.username)}`);
        if (format() === "json") return printObject("json", ready);
        process.stdout.write(`${ready.url ?? "(no URL: the lab has no port yet)"}\n`);
      },
    );
  labs
    .command("status [user]")
    .description("a lab's status (yours unless you name a user: admin)")
    .action(async (user?: string) => {
      const c = client();
      printObject(
        format(),
        await c.request<LabView>("GET", `/labs/${encodeURIComponent(await userOr(c, user))}`),
      );
    });
  labs
    .command("events [user]")
    .description("follow the progress of a lab's current spawn or delete")
    .action(async (user?: string) => {
      const c = client();
      await followLabEvents(c, "lab", await userOr(c, user));
    });
  labs
    .command("delete [user]")
    .description("delete a lab (a pending spawn is canceled); follows it to the end unless -d")
    .option("-d, --detach", "return once the delete is accepted")
    .action(async (user: string | undefined, o: { detach?: boolean }) => {
      const c = client();
      const who = await userOr(c, user);
      const lab = await c.request<LabView>("DELETE", `/labs/${encodeURIComponent(who)}`);
      if (o.detach) return printObject(format(), lab);
      await followLabEvents(c, "lab", who).catch((e) => {
        // A delete that completed at once has no operation left to follow.
        if (!(e instanceof Error && /no lab operation|has no lab/.test(e.message))) throw e;
      });
      process.stdout.write(`lab of ${who} deleted\n`);
    });
  labs
    .command("list")
    .description("every user's lab (admin)")
    .option("--status <status>", "pending, running, terminating, terminated or failed")
    .action(async (o: { status?: string }) => {
      const page = await client().request<{ items: LabView[] }>("GET", "/labs", {
        query: o.status ? { status: o.status } : {},
      });
      printRows(format(), page.items, labColumns);
    });
  labs
    .command("prepulls")
    .description("the prepuller: each wanted image, where it is and where it is missing; each device (admin)")
    .action(async () => {
      const s = await client().request<PrepullerStatus>("GET", "/labs/prepulls");
      if (format() === "json") return printObject("json", s);
      printRows(
        format(),
        [...s.images.prepulled, ...s.images.pending],
        [
          { header: "IMAGE", value: (i) => i.reference },
          { header: "ON", value: (i) => i.nodes.join(",") || "-" },
          { header: "MISSING", value: (i) => i.missing.join(",") || "-" },
        ],
      );
      process.stdout.write("\n");
      printRows(format(), s.nodes, [
        { header: "DEVICE", value: (n) => n.name },
        { header: "ELIGIBLE", value: (n) => (n.eligible ? "yes" : `no: ${n.comment}`) },
        { header: "PULLING", value: (n) => n.pulling },
        { header: "CACHED", value: (n) => n.cached.length },
      ]);
    });

  const config = labs.command("config").description("the workspace's lab config (admin)");
  config.command("get").action(async () => {
    printObject(outputFormat(globals()), await client().request<LabConfigView>("GET", "/labs/config"));
  });
  config
    .command("set")
    .description("set the whole config from a file (sizes, images, quota, ...; omitted fields take defaults)")
    .requiredOption("-f, --file <path>", "the config, as YAML or JSON")
    .option("--expected-revision <n>", "refuse unless it is still at this revision")
    .action(async (o: { file: string; expectedRevision?: string }) => {
      const body = await specFile(o.file, "a lab config is a mapping (sizes, defaultSize, images, ...)");
      if (o.expectedRevision) body.expectedRevision = Number(o.expectedRevision);
      printObject(
        outputFormat(globals()),
        await client().request<LabConfigView>("PUT", "/labs/config", { body }),
      );
    });

  const quota = labs.command("quota").description("a user's lab quota (admin)");
  quota.command("get <user>").action(async (user: string) => {
    printObject(
      outputFormat(globals()),
      await client().request<LabQuotaView>("GET", `/labs/quotas/${encodeURIComponent(user)}`),
    );
  });
  quota
    .command("set <user>")
    .description("override fields of the default quota (--reset: back to the default)")
    .option("--cpu <n>", "CPUs")
    .option("--memory-gib <n>", "memory, GiB")
    .option("--gpus <n>", "GPUs")
    .option("--spawn", "may spawn a lab")
    .option("--no-spawn", "may not spawn a lab")
    .option("--reset", "take every field back to the default")
    .action(
      async (
        user: string,
        o: { cpu?: string; memoryGib?: string; gpus?: string; spawn?: boolean; reset?: boolean },
      ) => {
        const number = (v: string | undefined, flag: string) => {
          if (v === undefined) return undefined;
          const n = Number(v);
          if (!Number.isFinite(n)) throw new CliError(`${flag} "${v}": expected a number`, 2);
          return n;
        };
        const body = o.reset
          ? { cpu: null, memoryGiB: null, gpus: null, spawn: null }
          : {
              cpu: number(o.cpu, "--cpu"),
              memoryGiB: number(o.memoryGib, "--memory-gib"),
              gpus: number(o.gpus, "--gpus"),
              spawn: o.spawn,
            };
        printObject(
          outputFormat(globals()),
          await client().request<LabQuotaView>("PUT", `/labs/quotas/${encodeURIComponent(user)}`, { body }),
        );
      },
    );
}

/** `berth fileservers create|status|renew|delete|list` (specs/labs.md §8). */
export function fileserversCommand(program: Command) {
  const fs = program.command("fileservers").description("user file servers with a fixed lifetime");
  const globals = () => program.opts<GlobalOptions>();
  const client = () => resolveClient(globals(), process.env);
  const format = () => outputFormat(globals());
  const at = async (c: ApiClient, user: string | undefined) =>
    `/fileservers/${encodeURIComponent(await userOr(c, user))}`;
  fs.command("create")
    .description("your file server: started (following its progress), or the one you have; prints its URL")
    .action(async () => {
      const c = client();
      const made = await c.request<LabView>("POST", "/fileservers");
      if (made.status === "pending") await followLabEvents(c, "fileserver", made.user.username);
      const now = await c.request<LabView>("GET", await at(c, made.user.username));
      if (format() === "json") return printObject("json", now);
      process.stdout.write(`${now.url ?? "(no URL yet)"}\n`);
    });
  fs.command("status [user]").action(async (user?: string) => {
    const c = client();
    printObject(format(), await c.request<LabView>("GET", await at(c, user)));
  });
  fs.command("renew [user]")
    .description("another lifetime, from now")
    .action(async (user?: string) => {
      const c = client();
      printObject(format(), await c.request<LabView>("POST", `${await at(c, user)}/renew`));
    });
  fs.command("delete [user]").action(async (user?: string) => {
    const c = client();
    printObject(format(), await c.request<LabView>("DELETE", await at(c, user)));
  });
  fs.command("list")
    .description("every user's file server (admin)")
    .action(async () => {
      printRows(
        format(),
        (await client().request<{ items: LabView[] }>("GET", "/fileservers")).items,
        labColumns,
      );
    });
}
