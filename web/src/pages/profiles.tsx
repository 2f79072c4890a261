import { api, ok } from "../api.ts";
import { useLive } from "../live.ts";
import type { Page } from "../page.ts";
import { Bar, Loaded, Table } from "../ui.tsx";

/** The workspace's quota as bars (use against each limit), and its resource profiles (named job sizes). */
function Profiles() {
  const quota = useLive(() => ok(api.quotas.$get()), []);
  const profiles = useLive(() => ok(api.profiles.$get({ query: { pageSize: "500" } })), []);
  return (
    <>
      <section aria-labelledby="quota">
        <h2 id="quota">Quota</h2>
        <Loaded live={quota}>
          {(q) => (
            <div class="bars">
              <Bar label="GPUs held by jobs" used={q.use.gpus} limit={q.limits.maxGpus} />
              <Bar label="Jobs not ended" used={q.use.runningJobs} limit={q.limits.maxRunningJobs} />
              <Bar label="Secrets" used={q.use.secrets} limit={q.limits.maxSecrets} />
              <Bar
                label="Namespaces besides default"
                used={q.use.namespaces}
                limit={q.limits.maxNamespaces}
              />
              <p class="muted">
                Admins set limits with npx berth quotas set --max-gpus N --max-running-jobs N --max-secrets N
                --max-namespaces N.
              </p>
            </div>
          )}
        </Loaded>
      </section>
      <section aria-labelledby="profiles">
        <h2 id="profiles">Resource profiles</h2>
        <Loaded live={profiles}>
          {(data) => (
            <Table
              rows={data.items}
              keyOf={(p) => p.name}
              empty="No profiles: npx berth profiles create large --gpus 8 --gpu-type H100"
              columns={[
                { header: "Name", cell: (p) => p.name },
                { header: "GPUs", cell: (p) => (p.gpus ? `${p.gpus.count} ${p.gpus.type ?? ""}` : "—") },
                { header: "Queue (node group)", cell: (p) => p.queue ?? "any" },
                {
                  header: "Limits",
                  cell: (p) =>
                    p.limits.map((l) => `${l.type}=${l.value ?? l.defaultValue ?? ""}`).join(", ") || "—",
                },
                {
                  header: "Constraints",
                  cell: (p) =>
                    p.placementConstraints
                      .map((c) => (c.value ? `${c.name}=${c.value}` : c.name))
                      .join(", ") || "—",
                },
                { header: "Cloud", cell: (p) => p.cloudLauncher ?? "—" },
              ]}
            />
          )}
        </Loaded>
      </section>
    </>
  );
}

export const profiles: Page = {
  path: "/profiles",
  title: "Profiles & quotas",
  nav: true,
  component: Profiles,
};
