import { defineConfig } from "vite";

/**
 * The dashboard: Preact (JSX through esbuild, no Babel), built into dist/web and served by the app at /ui/.
 * `npm run build` runs this build (scripts/build.mjs); `npx vite web` serves it with hot reload, sending
 * /api to a server on :8787.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: "/ui/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "../dist/web",
    emptyOutDir: true,
    target: "es2022",
    // Nothing inline (the page's CSP allows only files of this origin).
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: { proxy: { "/api": "http://127.0.0.1:8787" } },
  logLevel: "warn",
});
