import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { DocsAsset } from "../shared/app/deps.ts";

/** The files of swagger-ui-dist the docs page uses (a dependency: the page works without internet). */
export const DOCS_ASSETS = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
} as const;

/** Reads a docs asset from the installed swagger-ui-dist package, once; undefined for any other name. */
export function docsAssetLoader(): (name: string) => Promise<DocsAsset | undefined> {
  const cache = new Map<string, Promise<DocsAsset | undefined>>();
  let dir: string | undefined;
  return (name) => {
    if (!Object.hasOwn(DOCS_ASSETS, name)) return Promise.resolve(undefined);
    let found = cache.get(name);
    if (!found) {
      dir ??= dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
      found = readFile(join(dir, name)).then(
        (bytes) => ({ bytes, contentType: DOCS_ASSETS[name as keyof typeof DOCS_ASSETS] }),
        () => undefined,
      );
      cache.set(name, found);
    }
    return found;
  };
}
