import { api, ok } from "../api.ts";
import { useLive } from "../live.ts";
import type { Page } from "../page.ts";
import { setQuery } from "../router.ts";
import { Ago, Field, Loaded, Table } from "../ui.tsx";

/**
 * Secrets of a namespace (`?ns=`, default otherwise): metadata and fingerprints only (no answer of the API
 * holds a value), with the namespaces and their counts to choose from.
 */
function Secrets({ query }: { query: URLSearchParams }) {
  const ns = query.get("ns") || "default";
  const namespaces = useLive(() => ok(api.namespaces.$get({ query: { pageSize: "500" } })), []);
  const list = useLive(
    () => ok(api.namespaces[":ns"].secrets.$get({ param: { ns }, query: { pageSize: "500" } })),
    [ns],
  );
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="filter secrets">
        <Field label="Namespace">
          <select value={ns} onChange={(e) => setQuery({ ns: e.currentTarget.value })}>
            {(namespaces.data?.items ?? [{ name: ns, secretCount: undefined, status: "active" }]).map((n) => (
              <option key={n.name} value={n.name}>
                {n.name}
                {n.secretCount === undefined ? "" : ` (${n.secretCount})`}
                {n.status === "deleting" ? ", deleting" : ""}
              </option>
            ))}
          </select>
        </Field>
      </form>
      <Loaded live={list}>
        {(data) => (
          <Table
            rows={data.items}
            keyOf={(s) => s.name}
            empty={`No secrets in ${ns}: npx berth secrets create hf --type Environment --from-stdin${ns === "default" ? "" : ` -n ${ns}`}`}
            columns={[
              { header: "Name", cell: (s) => s.name },
              { header: "Type", cell: (s) => s.type },
              { header: "Version", cell: (s) => s.version },
              { header: "Fingerprint", cell: (s) => <code>{s.fingerprint}</code> },
              { header: "Size", cell: (s) => `${s.sizeBytes} B` },
              { header: "Member jobs", cell: (s) => (s.allowMemberJobs ? "allowed" : "admin only") },
              {
                header: "Last delivered",
                cell: (s) => (s.lastDeliveredAt ? <Ago at={s.lastDeliveredAt} /> : "never"),
              },
              { header: "Updated", cell: (s) => <Ago at={s.updatedAt} /> },
              { header: "Description", cell: (s) => s.description || "—" },
            ]}
          />
        )}
      </Loaded>
    </>
  );
}

export const secrets: Page = { path: "/secrets", title: "Secrets", nav: true, component: Secrets };
