import { api, ok } from "../api.ts";
import { useLive } from "../live.ts";
import type { Page } from "../page.ts";
import { setQuery } from "../router.ts";
import { Ago, ErrorNote, Field, Link, Loaded, Loading, Status, Table } from "../ui.tsx";

/** The namespace chooser of the application pages (`?ns=`; `default` otherwise). */
function NamespaceField({ ns }: { ns: string }) {
  const namespaces = useLive(() => ok(api.namespaces.$get({ query: { pageSize: "500" } })), []);
  return (
    <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="choose a namespace">
      <Field label="Namespace">
        <select value={ns} onChange={(e) => setQuery({ ns: e.currentTarget.value })}>
          {(namespaces.data?.items ?? [{ name: ns, applicationCount: undefined, status: "active" }]).map(
            (n) => (
              <option key={n.name} value={n.name}>
                {n.name}
                {n.applicationCount === undefined ? "" : ` (${n.applicationCount})`}
                {n.status === "deleting" ? ", deleting" : ""}
              </option>
            ),
          )}
        </select>
      </Field>
    </form>
  );
}

const at = (ns: string) => (ns === "default" ? "" : `?ns=${encodeURIComponent(ns)}`);

/** The applications of a namespace, each with how many of its devices run the current version. */
function Applications({ query }: { query: URLSearchParams }) {
  const ns = query.get("ns") || "default";
  const list = useLive(
    () => ok(api.namespaces[":ns"].applications.$get({ param: { ns }, query: { pageSize: "500" } })),
    [ns],
  );
  return (
    <>
      <NamespaceField ns={ns} />
      <Loaded live={list}>
        {(data) => (
          <Table
            rows={data.items}
            keyOf={(a) => a.id}
            empty={`No applications in ${ns}: npx berth apps create -f app.yaml${ns === "default" ? "" : ` -n ${ns}`}`}
            columns={[
              {
                header: "Name",
                cell: (a) => (
                  <Link to={`/applications/${encodeURIComponent(a.name)}${at(ns)}`}>{a.name}</Link>
                ),
              },
              { header: "Type", cell: (a) => a.type },
              { header: "Version", cell: (a) => a.version },
              {
                header: "Available",
                cell: (a) => (
                  <meter
                    aria-label={`${a.name} available`}
                    min={0}
                    max={Math.max(1, a.deploymentStatus.total)}
                    value={a.deploymentStatus.available}
                    title={`${a.deploymentStatus.available} of ${a.deploymentStatus.total}`}
                  >
                    {a.deploymentStatus.available}/{a.deploymentStatus.total}
                  </meter>
                ),
              },
              {
                header: "Devices",
                cell: (a) => `${a.deploymentStatus.available}/${a.deploymentStatus.total} available`,
              },
              { header: "Failed", cell: (a) => a.deploymentStatus.failed || "—" },
              { header: "Status", cell: (a) => <Status value={a.status} /> },
              { header: "Updated", cell: (a) => <Ago at={a.updatedAt} /> },
            ]}
          />
        )}
      </Loaded>
    </>
  );
}

/** One application: what it runs and where, per device (Synpse's per-device status), with each device's log. */
function ApplicationPage({ params, query }: { params: Record<string, string>; query: URLSearchParams }) {
  const ns = query.get("ns") || "default";
  const name = params.name!;
  const param = { param: { ns, app: name } };
  const app = useLive(() => ok(api.namespaces[":ns"].applications[":app"].$get(param)), [ns, name]);
  const deployments = useLive(
    () => ok(api.namespaces[":ns"].applications[":app"].deployments.$get({ ...param, query: {} })),
    [ns, name],
  );
  const device = query.get("device") ?? deployments.data?.items[0]?.deviceId;
  if (!app.data) return app.error ? <ErrorNote error={app.error} /> : <Loading />;
  const a = app.data;
  const s = a.deploymentStatus;
  return (
    <>
      <p>
        <Link to={`/applications${at(ns)}`}>← Applications</Link>
      </p>
      <h2 class="job-title">
        {a.name} <Status value={a.status} />
      </h2>
      <dl class="facts">
        <dt>Namespace</dt>
        <dd>{a.namespace}</dd>
        <dt>Version</dt>
        <dd>
          {a.version} (config {a.configVersion})
        </dd>
        <dt>Scheduling</dt>
        <dd>
          {a.scheduling.type}
          {Object.entries(a.scheduling.selectors).map(([k, v]) => (
            <code key={k}> {`${k}=${v}`}</code>
          ))}
        </dd>
        <dt>Deployments</dt>
        <dd data-testid="deployment-status">
          {s.available} of {s.total} available · {s.updated} updated · {s.failed} failed · {s.pending} pending
        </dd>
        <dt>Containers</dt>
        <dd>{a.spec.containers.map((c) => String(c.name)).join(", ")}</dd>
      </dl>
      <h2>Devices</h2>
      <Loaded live={deployments}>
        {(data) => (
          <Table
            rows={data.items}
            keyOf={(d) => d.deviceId}
            empty="No device matches its scheduling yet"
            columns={[
              {
                header: "Device",
                cell: (d) => (
                  <Link
                    to={`/applications/${encodeURIComponent(name)}?${new URLSearchParams({
                      ...(ns === "default" ? {} : { ns }),
                      device: d.deviceId,
                    })}`}
                  >
                    {d.deviceId}
                  </Link>
                ),
              },
              { header: "State", cell: (d) => <Status value={d.state} /> },
              { header: "Version", cell: (d) => d.version },
              {
                header: "Containers",
                cell: (d) =>
                  d.containers.length === 0
                    ? "—"
                    : d.containers.map((c) => (
                        <span key={c.name} class="container-state">
                          {c.name}: <Status value={c.state} />
                          {c.restartCount > 0 ? ` ↻${c.restartCount}` : ""}{" "}
                        </span>
                      )),
              },
              { header: "Message", cell: (d) => d.message || "—" },
              { header: "Updated", cell: (d) => <Ago at={d.updatedAt} /> },
            ]}
          />
        )}
      </Loaded>
      {device ? <DeviceLog ns={ns} app={name} device={device} /> : null}
    </>
  );
}

/** The last lines an application wrote on one device, refreshed while the page is open. */
function DeviceLog({ ns, app, device }: { ns: string; app: string; device: string }) {
  const log = useLive(
    () =>
      ok(
        api.namespaces[":ns"].applications[":app"].devices[":device"].logs.$get({
          param: { ns, app, device },
          query: { tail: "200", stream: "mixed", follow: "false" },
        }),
      ).catch(() => ({ output: [] })),
    [ns, app, device],
  );
  const lines = log.data && typeof log.data === "object" && "output" in log.data ? log.data.output : [];
  return (
    <section aria-labelledby="device-log">
      <h2 id="device-log">
        Log on <code>{device}</code>
      </h2>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: it scrolls, so it must be reachable by keyboard (WCAG 2.1.1) */}
      <pre class="output" role="log" tabIndex={0} aria-label="application log" aria-live="off">
        {lines.length === 0 ? <span class="muted">no output yet</span> : null}
        {lines.map((l) => (
          <span key={l.seqId} class={l.stream}>
            {l.container ? `${l.container} | ` : ""}
            {l.data.endsWith("\n") ? l.data : `${l.data}\n`}
          </span>
        ))}
      </pre>
    </section>
  );
}

export const applications: Page = {
  path: "/applications",
  title: "Applications",
  nav: true,
  component: Applications,
};
export const application: Page = {
  path: "/applications/:name",
  title: "Application",
  nav: false,
  component: ApplicationPage,
};
