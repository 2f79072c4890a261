#!/usr/bin/env node
// The `berth` command: runs the TypeScript sources through tsx's loader.
import { register } from "tsx/esm/api";

register();
await import("../cli/run.ts");
