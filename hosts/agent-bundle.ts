import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { AgentBundle } from "../shared/app/deps.ts";

/**
 * Where the built agent (dist/berth-agent.mjs) is, seen from the code that runs: next to the bundled server
 * (dist/), one level up from the sources (hosts/ in development and tests), in a Lambda's task root
 * (infra/api.ts copies it there), or where BERTH_AGENT_BUNDLE says.
 */
function candidates(): string[] {
  return [
    process.env.BERTH_AGENT_BUNDLE,
    fileURLToPath(new URL("./berth-agent.mjs", import.meta.url)),
    fileURLToPath(new URL("../dist/berth-agent.mjs", import.meta.url)),
    process.env.LAMBDA_TASK_ROOT && `${process.env.LAMBDA_TASK_ROOT}/berth-agent.mjs`,
  ].filter((p): p is string => Boolean(p));
}

/**
 * The agent bundle GPU machines download (`GET /downloads/berth-agent.mjs`, verified by install.sh against its
 * SHA-256): read once, on first use, and kept. Undefined when this host has none (not built).
 */
export function agentBundleLoader(): () => Promise<AgentBundle | undefined> {
  let loaded: Promise<AgentBundle | undefined> | undefined;
  const load = async () => {
    for (const path of candidates()) {
      const bytes = await readFile(path).catch(() => undefined);
      if (bytes) return { bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
    }
    return undefined;
  };
  return () => {
    loaded ??= load().then((b) => {
      if (!b) loaded = undefined; // built later (a developer running npm run build): look again next time
      return b;
    });
    return loaded;
  };
}
