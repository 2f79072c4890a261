import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { SERVICE_ENVIRONMENT, SERVICE_PORT } from "../../infra/hosting.ts";
import {
  cmdOf,
  copiesFrom,
  envOf,
  instructionsOf,
  REPO_ROOT,
  readDockerfile,
} from "../helpers/dockerfile.ts";

// The image is not built here: its base image cannot be pulled without a registry. These checks read the
// Dockerfile; test/e2e/container-entry.test.ts runs its CMD and ENV.
describe("the service Dockerfile", () => {
  const { stages, final } = readDockerfile();

  it("has a build stage and a runtime stage, both on a pinned node 22 image", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) {
      expect(stage.from).toMatch(/^node:22-[a-z0-9.-]+$/);
      expect(stage.from).not.toMatch(/:latest$/);
    }
    expect(final.from).toBe("node:22-bookworm-slim");
  });

  it("installs every dependency to build, and only production dependencies to run", () => {
    const build = stages[0]!;
    expect(instructionsOf(build, "RUN").some((r) => /\bnpm ci\b(?!.*--omit=dev)/.test(r))).toBe(true);
    const runs = instructionsOf(final, "RUN");
    expect(runs.some((r) => /\bnpm ci --omit=dev\b/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm (ci|install)\b(?!.*--omit=dev)/.test(r))).toBe(false);
  });

  it("lets npm ci's prepare (the build script) run, or skips it, where the sources are not there yet", () => {
    const prepare = (
      JSON.parse(readFileSync(resolve(REPO_ROOT, "package.json"), "utf8")) as {
        scripts: Record<string, string>;
      }
    ).scripts.prepare!;
    expect(prepare).toBe("node scripts/build.mjs");
    for (const stage of stages) {
      const ci = stage.instructions.findIndex((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args));
      if (/--ignore-scripts/.test(stage.instructions[ci]!.args)) continue;
      // Otherwise the script must be in the image by then (it skips itself without esbuild).
      const copied = stage.instructions
        .slice(0, ci)
        .some((i) => i.keyword === "COPY" && /scripts\/build\.mjs|^\. \./.test(i.args));
      expect(copied, `stage ${stage.name ?? stage.from}`).toBe(true);
    }
  });

  it("runs as the unprivileged node user", () => {
    const users = instructionsOf(final, "USER");
    expect(users.at(-1)).toBe("node");
    // USER applies to what follows it: it must come before the CMD.
    const last = final.instructions.findLastIndex((i) => i.keyword === "USER");
    expect(final.instructions.findIndex((i) => i.keyword === "CMD")).toBeGreaterThan(last);
  });

  it("exposes the port it listens on, the one infra forwards to", () => {
    const env = envOf(final);
    expect(instructionsOf(final, "EXPOSE")).toEqual([String(SERVICE_PORT)]);
    expect(env.PORT).toBe(String(SERVICE_PORT));
    expect(SERVICE_ENVIRONMENT.PORT).toBe(String(SERVICE_PORT));
    expect(env.HOST).toBe("0.0.0.0");
  });

  it("starts berth server with node in exec form, from the build the runtime stage copies", () => {
    const cmd = cmdOf(final);
    expect(cmd.slice(0, 3)).toEqual(["node", "bin/berth.mjs", "server"]);
    expect(instructionsOf(stages[0]!, "RUN").some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    const copied = copiesFrom(final, stages[0]!.name!).map((c) => c.dest.replace(/^\.\//, ""));
    // What runs is built: no TypeScript sources, and so no loader for them.
    expect(copied.sort()).toEqual(["bin", "dist"]);
    expect(instructionsOf(final, "WORKDIR").at(-1)).toBe("/app");
  });

  it("keeps local state, dependencies and git out of the build context", () => {
    const ignored = readFileSync(resolve(REPO_ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim());
    // SST appends ".sst" itself when the line is missing, so it must be there as exactly that line.
    for (const entry of ["node_modules", ".berth", ".sst", ".git", "coverage", "*.log", "dist"]) {
      expect(ignored).toContain(entry);
    }
  });
});
