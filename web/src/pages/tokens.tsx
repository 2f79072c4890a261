import { useState } from "preact/hooks";
import { installLine } from "../../../shared/domain/install-line.ts";
import { type ApiError, api, ok } from "../api.ts";
import { useLive } from "../live.ts";
import type { Page } from "../page.ts";
import { Action, Ago, ErrorNote, Field, Loaded, Table } from "../ui.tsx";

/** Registration tokens (admin): list, revoke, and create one, whose secret and install line show only once. */
function Tokens() {
  const list = useLive(() => ok(api["registration-tokens"].$get({ query: { pageSize: "500" } })), []);
  const [name, setName] = useState("");
  const [group, setGroup] = useState("");
  const [max, setMax] = useState("");
  const [created, setCreated] = useState<{ name: string; line: string }>();
  const [error, setError] = useState<ApiError>();
  const create = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const t = await ok(
        api["registration-tokens"].$post({
          json: {
            name,
            ...(group ? { nodeGroup: group } : {}),
            ...(max ? { maxRegistrations: Number(max) } : {}),
          },
        }),
      );
      setCreated({ name: t.name, line: installLine(location.origin, t.token, t.nodeGroup) });
      setName("");
      void list.refresh();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return (
    <>
      <section aria-labelledby="new-token">
        <h2 id="new-token">Add GPU machines</h2>
        <form class="filters" onSubmit={create}>
          <Field label="Name">
            <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field label="Node group" hint="optional">
            <input value={group} onInput={(e) => setGroup(e.currentTarget.value)} />
          </Field>
          <Field label="Machines it may register" hint="empty: no limit">
            <input type="number" min="1" value={max} onInput={(e) => setMax(e.currentTarget.value)} />
          </Field>
          <button type="submit">Create token</button>
        </form>
        <ErrorNote error={error} />
        {created ? (
          <div class="once" role="status">
            <p>
              Token <strong>{created.name}</strong> created. Run this on each GPU machine (Linux with systemd
              and Node.js 20+). <strong>It is shown only now</strong>: the control plane keeps only its hash.
            </p>
            <pre class="install">{created.line}</pre>
            <button type="button" onClick={() => navigator.clipboard?.writeText(created.line)}>
              Copy
            </button>
          </div>
        ) : null}
      </section>
      <section aria-labelledby="tokens">
        <h2 id="tokens">Registration tokens</h2>
        <Loaded live={list}>
          {(data) => (
            <Table
              rows={data.items}
              keyOf={(t) => t.id}
              empty="No registration tokens."
              columns={[
                { header: "Name", cell: (t) => t.name },
                { header: "Prefix", cell: (t) => <code>{t.prefix}</code> },
                { header: "Node group", cell: (t) => t.nodeGroup ?? "any" },
                {
                  header: "Registered",
                  cell: (t) => `${t.deviceCount}${t.maxRegistrations ? ` of ${t.maxRegistrations}` : ""}`,
                },
                { header: "Created", cell: (t) => <Ago at={t.createdAt} /> },
                { header: "Expires", cell: (t) => (t.expiresAt ? <Ago at={t.expiresAt} /> : "never") },
                {
                  header: "",
                  cell: (t) => (
                    <Action
                      label="Revoke"
                      danger
                      confirm={`Revoke ${t.name}? Machines can no longer register with it (registered ones stay).`}
                      run={() => ok(api["registration-tokens"][":id"].$delete({ param: { id: t.id } }))}
                      done={list.refresh}
                    />
                  ),
                },
              ]}
            />
          )}
        </Loaded>
      </section>
    </>
  );
}

export const tokens: Page = {
  path: "/tokens",
  title: "Registration tokens",
  nav: true,
  admin: true,
  component: Tokens,
};
