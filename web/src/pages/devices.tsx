import { useState } from "preact/hooks";
import { api, ok } from "../api.ts";
import { useLive } from "../live.ts";
import type { Page } from "../page.ts";
import { setQuery } from "../router.ts";
import { Action, Ago, Field, Link, Loaded, QueryField, Status } from "../ui.tsx";
import { everyone, useWho } from "../who.ts";

type Device = Awaited<ReturnType<typeof listDevices>>["items"][number];

const listDevices = (q: URLSearchParams) =>
  ok(
    api.devices.$get({
      query: {
        pageSize: "500",
        ...(q.get("status") ? { status: q.get("status") as "online" | "offline" } : {}),
        ...(q.get("group") ? { nodeGroup: q.get("group")! } : {}),
        ...(q.get("label") ? { label: q.get("label")! } : {}),
        ...(q.get("search") ? { search: q.get("search")! } : {}),
        ...(q.get("health") ? { health: q.get("health") as "Unhealthy" } : {}),
      },
    }),
  );

const gib = (bytes?: number) => (bytes ? `${Math.round(bytes / 2 ** 30)} GiB` : "—");

/** `a=1, b-`: labels to set and to remove, as `berth devices label` takes them. */
function parseLabels(text: string, current: Record<string, string>): Record<string, string> {
  const next = { ...current };
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    if (part.endsWith("-")) delete next[part.slice(0, -1)];
    else {
      const eq = part.indexOf("=");
      if (eq < 1) throw new Error(`"${part}": write key=value to set a label, key- to remove one`);
      next[part.slice(0, eq)] = part.slice(eq + 1);
    }
  }
  return next;
}

function DeviceDetail({ device, refresh }: { device: Device; refresh: () => Promise<void> }) {
  const who = useWho();
  const [labels, setLabels] = useState("");
  const [drainMinutes, setDrainMinutes] = useState("60");
  const running = useLive(
    () =>
      ok(
        api.jobs.$get({
          query: {
            statuses: "Running,Suspended,Pending",
            pageSize: "100",
            ...everyone(who),
          },
        }),
      ),
    [device.id],
  );
  const here = (running.data?.items ?? []).filter(
    (j) => j.host === device.name || j.host === device.info.hostname,
  );
  const id = { param: { id: device.id } };
  const health = useLive(() => ok(api.devices[":id"].health.$get(id)), [device.id]);
  const sick = new Set(device.health?.unhealthyGpus ?? []);
  const problems = (health.data?.report?.states ?? []).flatMap((c) =>
    c.states.filter((st) => st.health !== "Healthy").map((st) => ({ component: c.component, ...st })),
  );
  return (
    <div class="detail">
      <h3>GPUs</h3>
      {device.info.gpus.length === 0 ? <p class="muted">none reported</p> : null}
      <ul class="plain">
        {device.info.gpus.map((g) => (
          <li key={g.index}>
            GPU {g.index}: {g.product ?? "unknown model"}, {gib(g.memoryBytes)}
            {g.uuid ? <span class="muted"> ({g.uuid})</span> : null}
            {sick.has(g.index) ? (
              <>
                {" "}
                <Status value="Unhealthy" /> <span class="muted">(no new work is placed on it)</span>
              </>
            ) : null}
          </li>
        ))}
      </ul>
      <p>
        {device.allocated.gpus} of {device.resources.gpus} GPUs in use · driver{" "}
        {device.info.gpuDriverVersion ?? "—"} · CUDA {device.info.cudaVersion ?? "—"} ·{" "}
        {device.info.containerRuntime ?? "no container runtime"} · agent {device.agentVersion ?? "—"}
      </p>
      <h3>Health</h3>
      {!device.health ? (
        <p class="muted">not reported (its agent runs without nvidia-smi, or with --health off)</p>
      ) : (
        <>
          <p>
            <Status value={device.health.state} /> {device.health.reason}{" "}
            <span class="muted">
              (reported <Ago at={device.health.updatedAt} />, by {device.health.source})
            </span>
          </p>
          {problems.length ? (
            <table aria-label="health problems">
              <thead>
                <tr>
                  {["Component", "Health", "Reason", "Suggested action"].map((h) => (
                    <th scope="col" key={h}>
                      {h}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {problems.map((p) => (
                  <tr key={`${p.component}/${p.name}`}>
                    <td>{p.component}</td>
                    <td>
                      <Status value={p.health} />
                    </td>
                    <td>{p.reason}</td>
                    <td>{p.suggested_actions?.repair_actions.join(", ") || "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {who.role === "admin" && device.health.state !== "Healthy" ? (
            <Action
              label="Set healthy"
              confirm={`Tell ${device.name}'s agent to forget its GPU errors up to now (after a repair or a reset)?`}
              run={() => ok(api.devices[":id"].health["set-healthy"].$post({ ...id, json: {} }))}
              done={refresh}
            />
          ) : null}
        </>
      )}
      <h3>Running here</h3>
      {here.length === 0 ? <p class="muted">nothing</p> : null}
      <ul class="plain">
        {here.map((j) => (
          <li key={j.id}>
            <Link to={`/jobs/${j.id}`}>{j.name || j.command || j.exe || j.id}</Link>{" "}
            <Status value={j.status} />
          </li>
        ))}
      </ul>
      {who.role === "admin" ? (
        <div class="admin-actions">
          <h3>Manage</h3>
          {device.scheduling === "eligible" ? (
            <Action label="Cordon" run={() => ok(api.devices[":id"].cordon.$post(id))} done={refresh} />
          ) : (
            <Action label="Uncordon" run={() => ok(api.devices[":id"].uncordon.$post(id))} done={refresh} />
          )}
          <span class="inline">
            <Field label="Drain within (minutes)">
              <input
                type="number"
                min="0"
                value={drainMinutes}
                onInput={(e) => setDrainMinutes(e.currentTarget.value)}
              />
            </Field>
            <Action
              label="Drain"
              confirm={`Drain ${device.name}? No new jobs; running ones are stopped after ${drainMinutes} min.`}
              run={() =>
                ok(
                  api.devices[":id"].drain.$post({
                    ...id,
                    json: { deadlineSeconds: Math.round(Number(drainMinutes) * 60) },
                  }),
                )
              }
              done={refresh}
            />
          </span>
          <span class="inline">
            <Field label="Labels" hint="key=value sets, key- removes">
              <input
                value={labels}
                placeholder="team=vision"
                onInput={(e) => setLabels(e.currentTarget.value)}
              />
            </Field>
            <Action
              label="Relabel"
              run={async () =>
                ok(api.devices[":id"].$patch({ ...id, json: { labels: parseLabels(labels, device.labels) } }))
              }
              done={() => {
                setLabels("");
                void refresh();
              }}
            />
          </span>
        </div>
      ) : null}
    </div>
  );
}

/** Devices with filters (label, group, status, search); each opens to its GPUs, work, labels and actions. */
function Devices({ query }: { query: URLSearchParams }) {
  const list = useLive(() => listDevices(query), [query.toString()]);
  const [open, setOpen] = useState<string>();
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="filter devices">
        <Field label="Status">
          <select
            value={query.get("status") ?? ""}
            onChange={(e) => setQuery({ status: e.currentTarget.value })}
          >
            <option value="">any</option>
            <option value="online">online</option>
            <option value="offline">offline</option>
          </select>
        </Field>
        <QueryField label="Node group" param="group" query={query} />
        <QueryField label="Label" param="label" hint="key=value" query={query} />
        <Field label="Health">
          <select
            value={query.get("health") ?? ""}
            onChange={(e) => setQuery({ health: e.currentTarget.value })}
          >
            <option value="">any</option>
            {["Healthy", "Degraded", "Unhealthy", "Initializing", "Unknown"].map((h) => (
              <option value={h} key={h}>
                {h}
              </option>
            ))}
          </select>
        </Field>
        <QueryField label="Search" param="search" hint="name, hostname or id; Enter to apply" query={query} />
      </form>
      <Loaded live={list}>
        {(data) =>
          data.items.length === 0 ? (
            <p class="muted">
              No devices{query.toString() ? " match" : " yet: add a machine from Registration tokens"}.
            </p>
          ) : (
            <table>
              <thead>
                <tr>
                  {["Name", "Group", "Status", "Scheduling", "Health", "GPUs", "Labels", "Last seen"].map(
                    (h) => (
                      <th scope="col" key={h}>
                        {h}
                      </th>
                    ),
                  )}
                </tr>
              </thead>
              <tbody>
                {data.items.map((d) => [
                  <tr key={d.id}>
                    <td>
                      <button
                        type="button"
                        class="link"
                        aria-expanded={open === d.id}
                        onClick={() => setOpen(open === d.id ? undefined : d.id)}
                      >
                        {d.name}
                      </button>
                    </td>
                    <td>{d.nodeGroup}</td>
                    <td>
                      <Status value={d.status} />
                    </td>
                    <td>
                      <Status value={d.scheduling} />
                    </td>
                    <td>
                      <Status value={d.health?.state} />
                    </td>
                    <td>
                      {d.allocated.gpus}/{d.resources.gpus} {d.info.gpus[0]?.product ?? ""}
                    </td>
                    <td>
                      {Object.entries(d.labels).map(([k, v]) => (
                        <span class="tag" key={k}>
                          {k}={v}
                        </span>
                      ))}
                    </td>
                    <td>
                      <Ago at={d.lastSeenAt} />
                    </td>
                  </tr>,
                  open === d.id ? (
                    <tr key={`${d.id}-detail`}>
                      <td colSpan={8}>
                        <DeviceDetail device={d} refresh={list.refresh} />
                      </td>
                    </tr>
                  ) : null,
                ])}
              </tbody>
            </table>
          )
        }
      </Loaded>
    </>
  );
}

export const devices: Page = { path: "/devices", title: "Devices", nav: true, component: Devices };
