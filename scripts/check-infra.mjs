#!/usr/bin/env node
// Type-checks sst.config.ts, infra/ and functions/ against SST's component types in .sst/platform
// (extracted by scripts/sst-offline-install.sh). Without them: a notice on a developer machine, a
// failure in CI (CI=true), where the infra check must run.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const platform = ".sst/platform/config.d.ts";
if (!existsSync(platform)) {
  const how = "run scripts/sst-offline-install.sh (after npm install) to extract SST's types";
  if (process.env.CI === "true") {
    console.error(`check:infra: ${platform} is missing; ${how}`);
    process.exit(1);
  }
  console.warn(`check:infra: skipped, ${platform} is missing (${how})`);
  process.exit(0);
}

const tsc = spawnSync(
  ".sst/platform/node_modules/.bin/tsc",
  ["-p", "tsconfig.infra.json", "--pretty", "false"],
  {
    encoding: "utf8",
  },
);
if (tsc.error) {
  console.error(`check:infra: could not run SST's tsc: ${tsc.error.message}`);
  process.exit(1);
}
// SST's own sources under .sst/ may report an error or two of their own: only ours count.
const errors = `${tsc.stdout}${tsc.stderr}`
  .split("\n")
  .filter((line) => /error TS\d+/.test(line) && !line.startsWith(".sst/"));
if (errors.length > 0) {
  console.error(errors.join("\n"));
  console.error(`check:infra: ${errors.length} type error(s) in sst.config.ts, infra/ or functions/`);
  process.exit(1);
}
console.log("check:infra: sst.config.ts, infra/ and functions/ type-check against SST's components");
