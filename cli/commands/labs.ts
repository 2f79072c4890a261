import type { Command } from "commander";
import type { LabConfigView, LabQuotaView } from "../../shared/contracts/labs.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { CliError } from "../errors.ts";
import { printObject } from "../output.ts";
import { specFile } from "./apps.ts";

/** `berth labs config get|set`, `berth labs quota get|set` (specs/labs.md §2, §9). */
export function labsCommand(program: Command) {
  const labs = program.command("labs").description("labs: one interactive session per user (config, quotas)");
  const globals = () => program.opts<GlobalOptions>();
  const client = () => resolveClient(globals(), process.env);

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
