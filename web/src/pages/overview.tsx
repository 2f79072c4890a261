import { api, ok } from "../api.ts";
import { useLive } from "../live.ts";
import type { Page } from "../page.ts";
import { Ago, ErrorNote, Link, Loading, Status, Table } from "../ui.tsx";
import { everyone, useWho } from "../who.ts";

const FINAL = new Set(["Finished", "Failed", "Killed", "Canceled"]);

/** The fleet and the queue at a glance: devices by status, GPUs by type, jobs by status, recent failures. */
function Overview() {
  const who = useWho();
  const devices = useLive(() => ok(api.devices.$get({ query: { pageSize: "500" } })), []);
  const jobs = useLive(
    () =>
      ok(
        api.jobs.$get({
          query: { order: "desc", pageSize: "500", ...everyone(who) },
        }),
      ),
    [who.role],
  );
  const error = devices.error ?? jobs.error;
  if (!devices.data || !jobs.data) return error ? <ErrorNote error={error} /> : <Loading />;
  const d = devices.data.items;
  const byStatus = (s: string) => d.filter((x) => x.status === s).length;
  const cordoned = d.filter((x) => x.scheduling !== "eligible").length;
  const gpuTypes = new Map<string, { total: number; used: number }>();
  for (const x of d) {
    const type = x.info.gpus[0]?.product ?? (x.resources.gpus > 0 ? "GPU" : undefined);
    if (!type) continue;
    const t = gpuTypes.get(type) ?? { total: 0, used: 0 };
    if (x.status === "online") t.total += x.resources.gpus;
    t.used += x.allocated.gpus;
    gpuTypes.set(type, t);
  }
  const j = jobs.data.items;
  const jobCounts = new Map<string, number>();
  for (const x of j) jobCounts.set(x.status ?? "?", (jobCounts.get(x.status ?? "?") ?? 0) + 1);
  const cloud = j.filter((x) => x.target !== "fleet" && x.target !== undefined && !FINAL.has(x.status ?? ""));
  const failures = j.filter((x) => x.status === "Failed").slice(0, 5);
  return (
    <>
      <section class="cards" aria-label="fleet">
        <div class="card">
          <h2>Devices</h2>
          <p class="big">{d.length}</p>
          <p>
            <Status value="online" /> {byStatus("online")} · <Status value="offline" /> {byStatus("offline")}{" "}
            · <Status value="cordoned" /> {cordoned}
          </p>
          <Link to="/devices">All devices</Link>
        </div>
        <div class="card">
          <h2>GPUs</h2>
          {gpuTypes.size === 0 ? <p class="muted">no GPUs reported</p> : null}
          <ul class="plain">
            {[...gpuTypes].map(([type, t]) => (
              <li key={type}>
                <strong>{type}</strong>: {t.used} used, {Math.max(0, t.total - t.used)} free
              </li>
            ))}
          </ul>
        </div>
        <div class="card">
          <h2>Jobs</h2>
          <ul class="plain">
            {[...jobCounts].map(([s, n]) => (
              <li key={s}>
                <Status value={s} /> {n}
              </li>
            ))}
          </ul>
          {j.length === 0 ? <p class="muted">no jobs yet</p> : null}
          <Link to="/jobs">All jobs</Link>
        </div>
        <div class="card">
          <h2>Cloud</h2>
          <p class="big">{cloud.length}</p>
          <p>jobs on cloud capacity, not ended</p>
          <Link to="/cloud">Cloud capacity</Link>
        </div>
      </section>
      <section aria-labelledby="failures">
        <h2 id="failures">Recent failures</h2>
        <Table
          rows={failures}
          keyOf={(x) => x.id}
          empty="No failed jobs among the newest."
          columns={[
            { header: "Job", cell: (x) => <Link to={`/jobs/${x.id}`}>{x.name || x.id}</Link> },
            { header: "User", cell: (x) => x.user },
            { header: "Exit", cell: (x) => x.exitCode ?? "—" },
            { header: "Why", cell: (x) => x.statusMessage },
            { header: "Updated", cell: (x) => <Ago at={x.lastUpdateTime} /> },
          ]}
        />
      </section>
    </>
  );
}

export const overview: Page = { path: "/", title: "Overview", nav: true, component: Overview };
