#!/usr/bin/env node
// Builds what runs: dist/berth.mjs (the CLI and the server; its dependencies stay in node_modules, loaded only
// by the commands that need them), dist/berth-agent.mjs (the node agent alone, one file with everything it
// needs, for GPU machines) and dist/web (the dashboard). esbuild, so no TypeScript loader runs at run time. Run by `npm install`
// (prepare), `npm start` and the test setup; about a second.
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

// Installed without dev dependencies (a production install, the service image's runtime stage): there is
// nothing to build with, and what runs comes from a build made elsewhere.
let build;
try {
  ({ build } = await import("esbuild"));
} catch {
  console.warn("build: skipped (esbuild is a dev dependency and is not installed); dist/ comes from a build");
  process.exit(0);
}

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
  legalComments: "none",
  // Bundled CommonJS (commander, ...) calls require() for Node's own modules.
  banner: {
    js: 'import { createRequire as __berthRequire } from "node:module"; const require = __berthRequire(import.meta.url);',
  },
};

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist", { recursive: true });

await Promise.all([
  build({
    ...common,
    entryPoints: { berth: "cli/run.ts" },
    outdir: "dist",
    outExtension: { ".js": ".mjs" },
    // Commands load what they need when they run (the server its storage engines, the AWS SDK): each
    // dynamic import stays a chunk of its own, and packages stay imports of node_modules.
    splitting: true,
    chunkNames: "chunk-[hash]",
    packages: "external",
  }),
  build({
    ...common,
    entryPoints: { "berth-agent": "agent/main.ts" },
    outdir: "dist",
    outExtension: { ".js": ".mjs" },
    banner: { js: `#!/usr/bin/env node\n${common.banner.js}` },
  }),
]);
// The dashboard (web/): Preact through Vite into dist/web, served by the app at /ui/.
const { build: vite } = await import("vite");
await vite({ configFile: "web/vite.config.ts", logLevel: "warn" });
// The SQLite checkpointer runs in a worker thread from a file next to the chunk that starts it.
copyFileSync("shared/adapters/sqlite/checkpoint-worker.mjs", "dist/checkpoint-worker.mjs");
