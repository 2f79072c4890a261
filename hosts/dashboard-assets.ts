import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { DocsAsset } from "../shared/app/deps.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
};

const compressible = (type: string) => !type.startsWith("image/png") && !type.startsWith("image/x-icon");

/**
 * Where the built dashboard (dist/web, `npm run build`) is, seen from the code that runs: next to the bundled
 * server (dist/), one level up from the sources (hosts/ in development and tests), in a Lambda's task root
 * (infra/api.ts copies it there), or where BERTH_DASHBOARD_DIR says.
 */
function candidates(): string[] {
  return [
    process.env.BERTH_DASHBOARD_DIR,
    fileURLToPath(new URL("./web", import.meta.url)),
    fileURLToPath(new URL("../dist/web", import.meta.url)),
    process.env.LAMBDA_TASK_ROOT && `${process.env.LAMBDA_TASK_ROOT}/web`,
  ].filter((p): p is string => Boolean(p));
}

/**
 * Reads the dashboard's files (each once, then kept, with a gzipped copy: a few hundred KB in all). Only names of the build's
 * own kinds under its directory; anything else (`..`, another extension) is undefined.
 */
export function dashboardAssetLoader(): (path: string) => Promise<DocsAsset | undefined> {
  const cache = new Map<string, Promise<DocsAsset | undefined>>();
  const read = async (path: string) => {
    const contentType = TYPES[extname(path)];
    if (!contentType) return undefined;
    for (const dir of candidates()) {
      const bytes = await readFile(join(dir, path)).catch(() => undefined);
      if (bytes)
        return { bytes, contentType, ...(compressible(contentType) ? { gzip: gzipSync(bytes) } : {}) };
    }
    return undefined;
  };
  return (path) => {
    const clean = normalize(path).replace(/^\/+/, "");
    if (clean.startsWith("..") || clean.includes("\0")) return Promise.resolve(undefined);
    let found = cache.get(clean);
    if (!found) {
      found = read(clean).then((a) => {
        if (!a) cache.delete(clean); // built later, or never: do not keep the miss (nor grow on bad names)
        return a;
      });
      cache.set(clean, found);
    }
    return found;
  };
}
