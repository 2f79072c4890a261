import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import type { TestProject } from "vitest/node";
import { postgresMissing, startTestPostgres, type TestPostgres } from "../helpers/postgres.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** The test run's PostgreSQL server (a URL whose user may create databases), or why there is none. */
    postgres: { url?: string; missing?: string };
  }
}

let pg: TestPostgres | undefined;

/**
 * Once per `npm test`: the build (tests that spawn `berth` or the agent run what ships, dist/, from the sources
 * as they are now), and one PostgreSQL server that every test needing one shares (each in its own database).
 */
export async function setup(project: TestProject) {
  execFileSync(process.execPath, ["scripts/build.mjs"], {
    cwd: resolve(import.meta.dirname, "../.."),
    stdio: "inherit",
  });
  const missing = postgresMissing();
  if (missing) {
    project.provide("postgres", { missing });
    return;
  }
  pg = await startTestPostgres();
  project.provide("postgres", { url: pg.url });
}

export async function teardown() {
  await pg?.stop();
}
