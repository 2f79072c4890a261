#!/usr/bin/env node
// The `berth` command: the built CLI (dist/, made by `npm run build`, which `npm install` runs). No
// TypeScript loader at run time.
import { existsSync } from "node:fs";

// The AWS SDK warns on every start under Node 20 that its 2027 releases will need Node 22; the README
// says so once instead (set the variable to "false" to see it).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const built = new URL("../dist/berth.mjs", import.meta.url);
if (!existsSync(built)) {
  process.stderr.write(
    "error: berth is not built: run `npm run build` (npm install does it) and try again\n",
  );
  process.exit(2);
}
await import(built.href);
