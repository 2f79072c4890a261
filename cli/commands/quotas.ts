import type { Command } from "commander";
import type { QuotaView } from "../../shared/contracts/quotas.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { CliError } from "../errors.ts";
import { printObject } from "../output.ts";

const limit = (value: string | undefined, flag: string): number | null | undefined => {
  if (value === undefined) return undefined;
  if (value === "none") return null;
  if (!/^[0-9]+$/.test(value)) throw new CliError(`${flag} must be a whole number or "none"`, 2);
  return Number(value);
};

const show = (q: QuotaView) => ({
  gpus: `${q.use.gpus} of ${q.limits.maxGpus ?? "unlimited"}`,
  runningJobs: `${q.use.runningJobs} of ${q.limits.maxRunningJobs ?? "unlimited"}`,
  secrets: `${q.use.secrets} of ${q.limits.maxSecrets}`,
  namespaces: `${q.use.namespaces} of ${q.limits.maxNamespaces} (besides default)`,
  applications: `${q.use.applications} of ${q.limits.maxApplications}`,
});

/** `berth quotas [set]` */
export function quotasCommand(program: Command) {
  const globals = () => program.opts<GlobalOptions>();
  const client = () => resolveClient(globals(), process.env);
  const quotas = program
    .command("quotas")
    .description("the workspace's quota: limits and use")
    .action(async () => {
      const q = await client().request<QuotaView>("GET", "/quotas");
      printObject(outputFormat(globals()), outputFormat(globals()) === "json" ? q : show(q));
    });
  quotas
    .command("set")
    .description("set limits (admin); none removes one")
    .option("--max-gpus <n>", "GPUs held by running jobs, at most")
    .option("--max-running-jobs <n>", "jobs not yet ended, at most")
    .option("--max-secrets <n>", "secrets in all namespaces, at most (none: the default, 1000)")
    .option("--max-namespaces <n>", "namespaces besides default, at most (none: the default, 20)")
    .option("--max-applications <n>", "applications in all namespaces, at most (none: the default, 100)")
    .action(
      async (o: {
        maxGpus?: string;
        maxRunningJobs?: string;
        maxSecrets?: string;
        maxNamespaces?: string;
        maxApplications?: string;
      }) => {
        const q = await client().request<QuotaView>("PUT", "/quotas", {
          body: {
            maxGpus: limit(o.maxGpus, "--max-gpus"),
            maxRunningJobs: limit(o.maxRunningJobs, "--max-running-jobs"),
            maxSecrets: limit(o.maxSecrets, "--max-secrets"),
            maxNamespaces: limit(o.maxNamespaces, "--max-namespaces"),
            maxApplications: limit(o.maxApplications, "--max-applications"),
          },
        });
        printObject(outputFormat(globals()), outputFormat(globals()) === "json" ? q : show(q));
      },
    );
}
