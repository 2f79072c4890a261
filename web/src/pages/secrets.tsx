import { api, ok } from "../api.ts";
import { useLive } from "../live.ts";
import type { Page } from "../page.ts";
import { Ago, Loaded, Table } from "../ui.tsx";

/** Secrets of the default namespace: metadata and fingerprints only (no answer of the API holds a value). */
function Secrets() {
  const list = useLive(
    () => ok(api.namespaces[":ns"].secrets.$get({ param: { ns: "default" }, query: { pageSize: "500" } })),
    [],
  );
  return (
    <Loaded live={list}>
      {(data) => (
        <Table
          rows={data.items}
          keyOf={(s) => s.name}
          empty="No secrets: npx berth secrets create hf --type Environment --from-stdin"
          columns={[
            { header: "Name", cell: (s) => s.name },
            { header: "Type", cell: (s) => s.type },
            { header: "Version", cell: (s) => s.version },
            { header: "Fingerprint", cell: (s) => <code>{s.fingerprint}</code> },
            { header: "Size", cell: (s) => `${s.sizeBytes} B` },
            { header: "Member jobs", cell: (s) => (s.allowMemberJobs ? "allowed" : "admin only") },
            { header: "Updated", cell: (s) => <Ago at={s.updatedAt} /> },
            { header: "Description", cell: (s) => s.description || "—" },
          ]}
        />
      )}
    </Loaded>
  );
}

export const secrets: Page = { path: "/secrets", title: "Secrets", nav: true, component: Secrets };
