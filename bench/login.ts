/**
 * bench/login: GPUd-style logins against the local server. First logins (each creates a device:
 * token claim + group join + device put) and relogins (device read + update), at 1, 16 and 64
 * concurrent clients. Run: npm run bench -- login
 */
import { gpudLoginBody } from "../test/helpers/fleet.ts";
import { load, summarize } from "./lib.ts";
import { benchServer, postJson } from "./local.ts";

export async function benchLogin(opts: { perRow?: number } = {}) {
  const perRow = opts.perRow ?? 400;
  const { server, admin, done } = await benchServer("login");
  const rows: Record<string, string | number>[] = [];
  try {
    const created = await postJson(`${server.url}/api/v1/registration-tokens`, { name: "bench" }, admin);
    const token = created.body.token as string;
    const machines: string[] = [];
    const url = `${server.url}/api/v1/login`;
    for (const concurrency of [1, 16, 64]) {
      for (const kind of ["first login", "relogin"] as const) {
        let errors = 0;
        const { latencies, wallMs } = await load(perRow, concurrency, async (i) => {
          const body =
            kind === "first login"
              ? gpudLoginBody(token)
              : gpudLoginBody(token, { machineID: machines[i % machines.length], nodeGroup: undefined });
          const res = await postJson(url, body);
          if (res.status !== 200) errors++;
          else if (kind === "first login") machines.push(res.body.machineID as string);
        });
        const s = summarize(latencies);
        rows.push({
          kind,
          concurrency,
          logins: perRow,
          "logins/s": Math.round((perRow / wallMs) * 1000),
          "p50 ms": s.p50,
          "p99 ms": s.p99,
          "max ms": s.max,
          errors,
        });
      }
    }
  } finally {
    await done();
  }
  return rows;
}
