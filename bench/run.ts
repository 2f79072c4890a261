/**
 * Runs the benchmarks and prints their tables: `npm run bench` (all) or `npm run bench -- api`.
 * Numbers depend on the machine; BENCHMARKS.md records them with the machine they came from.
 */
import { cpus, totalmem } from "node:os";

// As bin/berth.mjs does: the SDK's notice about future Node versions is not part of the numbers.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

import { benchAgent } from "./agent.ts";
import { benchApi } from "./api.ts";
import { benchApplications } from "./applications.ts";
import { benchCost } from "./cost.ts";
import { benchDashboard } from "./dashboard.ts";
import { benchDelivery } from "./delivery.ts";
import { benchFleet } from "./fleet.ts";
import { benchHealth } from "./health.ts";
import { benchJobs } from "./jobs.ts";
import { benchLabs } from "./labs.ts";
import { table } from "./lib.ts";
import { benchLogin } from "./login.ts";
import { benchProvision } from "./provision.ts";
import { benchRequests } from "./requests.ts";

const BENCHMARKS: Record<string, () => Promise<Record<string, string | number>[]>> = {
  api: () => benchApi(),
  login: () => benchLogin(),
  delivery: () => benchDelivery(),
  fleet: () => benchFleet(),
  agent: () => benchAgent(),
  jobs: () => benchJobs(),
  provision: () => benchProvision(),
  requests: () => benchRequests(),
  cost: () => benchCost(),
  dashboard: () => benchDashboard(),
  applications: () => benchApplications(),
  labs: () => benchLabs(),
  health: () => benchHealth(),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = wanted.filter((w) => !(w in BENCHMARKS));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark(s): ${unknown.join(", ")}; available: ${Object.keys(BENCHMARKS).join(", ")}`,
  );
  process.exit(2);
}
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`,
);
for (const name of wanted.length ? wanted : Object.keys(BENCHMARKS)) {
  console.log(`\n## ${name}\n`);
  console.log(table(await BENCHMARKS[name]!()));
}
