import { api, ok } from "../api.ts";
import { useLive } from "../live.ts";
import type { Page } from "../page.ts";
import { Ago, ErrorNote, Link, Loading, Status, Table } from "../ui.tsx";
import { everyone, useWho } from "../who.ts";

/** Where a cloud job is: waiting for the worker, waiting for an instance, or running. */
function phase(j: { status?: string; statusCode?: string }): string {
  if (j.status === "Running" || j.status === "Suspended") return "running";
  if (j.statusCode === "Provisioning") return "launching";
  return "queued";
}

/** Jobs on cloud capacity that have not ended: queued, launching and running, per GPU family. */
function Cloud() {
  const who = useWho();
  const list = useLive(
    () =>
      ok(
        api.jobs.$get({
          query: {
            order: "desc",
            pageSize: "500",
            statuses: "Pending,Running,Suspended",
            ...everyone(who),
          },
        }),
      ),
    [who.role],
  );
  if (!list.data) return list.error ? <ErrorNote error={list.error} /> : <Loading />;
  // Cloud jobs, and auto jobs while they wait for cloud capacity (Queued, Provisioning).
  const cloud = list.data.items.filter(
    (j) => j.target === "cloud" || j.statusCode === "Queued" || j.statusCode === "Provisioning",
  );
  const families = new Map<string, Record<string, number>>();
  for (const j of cloud) {
    const family = j.gpus?.type ?? (j.gpus?.count ? "default GPU family" : "CPU");
    const counts = families.get(family) ?? { queued: 0, launching: 0, running: 0 };
    counts[phase(j)]! += 1;
    families.set(family, counts);
  }
  return (
    <>
      <section aria-labelledby="families">
        <h2 id="families">By GPU family</h2>
        <Table
          rows={[...families]}
          keyOf={([f]) => f}
          empty="No jobs on cloud capacity. Jobs go there with --target cloud (or auto, when the fleet cannot take them)."
          columns={[
            { header: "GPU family", cell: ([f]) => f },
            { header: "Queued", cell: ([, c]) => c.queued },
            { header: "Launching", cell: ([, c]) => c.launching },
            { header: "Running", cell: ([, c]) => c.running },
          ]}
        />
      </section>
      <section aria-labelledby="cloud-jobs">
        <h2 id="cloud-jobs">Cloud jobs</h2>
        <Table
          rows={cloud}
          keyOf={(j) => j.id}
          empty="None."
          columns={[
            { header: "Job", cell: (j) => <Link to={`/jobs/${j.id}`}>{j.name || j.id}</Link> },
            { header: "Phase", cell: (j) => phase(j) },
            { header: "Status", cell: (j) => <Status value={j.status} /> },
            { header: "GPUs", cell: (j) => `${j.gpus?.count ?? 0} ${j.gpus?.type ?? ""}` },
            { header: "Why", cell: (j) => j.statusMessage },
            { header: "Submitted", cell: (j) => <Ago at={j.submissionTime} /> },
          ]}
        />
      </section>
    </>
  );
}

export const cloud: Page = { path: "/cloud", title: "Cloud capacity", nav: true, component: Cloud };
