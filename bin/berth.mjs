#!/usr/bin/env node
// The `berth` command: runs the TypeScript sources through tsx's loader.
import { register } from "tsx/esm/api";

// The AWS SDK warns on every start under Node 20 that its 2027 releases will need Node 22; the README
// says so once instead (set the variable to "false" to see it).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

register();
await import("../cli/run.ts");
