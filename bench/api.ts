/**
 * bench/api: request latency and throughput of the local server (dynalite on disk, one process) for
 * the authenticated hot paths: GET /healthz, GET /api/v1/api-keys (auth + one query), and
 * POST /api/v1/api-keys (auth + one conditional write). Run: npm run bench -- api
 */
import { load, summarize, table } from "./lib.ts";
import { benchServer } from "./local.ts";

export async function benchApi(opts: { requests?: number } = {}) {
  const total = opts.requests ?? 2000;
  const { server, admin, done } = await benchServer("api");
  const auth = { authorization: `Bearer ${admin}` };
  const rows: Record<string, string | number>[] = [];
  try {
    const cases: [string, (i: number) => Promise<Response>][] = [
      ["GET /healthz", () => fetch(`${server.url}/healthz`)],
      ["GET /api/v1/api-keys", () => fetch(`${server.url}/api/v1/api-keys?pageSize=10`, { headers: auth })],
      [
        "POST /api/v1/api-keys",
        (i) =>
          fetch(`${server.url}/api/v1/api-keys`, {
            method: "POST",
            headers: { ...auth, "content-type": "application/json" },
            body: JSON.stringify({ name: `bench-${i}` }),
          }),
      ],
    ];
    for (const [name, call] of cases) {
      for (const concurrency of [1, 16]) {
        await load(50, concurrency, async (i) => void (await (await call(-i - 1)).arrayBuffer())); // warm-up
        let errors = 0;
        const { latencies, wallMs } = await load(total, concurrency, async (i) => {
          const res = await call(i);
          await res.arrayBuffer();
          if (!res.ok) errors++;
        });
        const s = summarize(latencies);
        rows.push({
          request: name,
          concurrency,
          requests: total,
          "req/s": Math.round((total / wallMs) * 1000),
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

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(table(await benchApi()));
}
