import { useState } from "preact/hooks";
import { JOB_STATUSES } from "../../../shared/domain/job-status.ts";
import { api, ok } from "../api.ts";
import { useLive } from "../live.ts";
import type { Page } from "../page.ts";
import { setQuery } from "../router.ts";
import { Ago, Field, Link, Loaded, QueryField, Status, Table } from "../ui.tsx";
import { useWho } from "../who.ts";

const PAGE_SIZE = 50;

const without = (query: URLSearchParams, name: string) => {
  const q = new URLSearchParams(query);
  q.delete(name);
  return q.toString();
};

/** A `datetime-local` value (the browser's local time) as the API's RFC 3339. */
const iso = (local: string) => new Date(local).toISOString();

/** The jobs, newest first, with the API's filters (status, tag, time, user) and a search of names, commands and ids. */
function Jobs({ query }: { query: URLSearchParams }) {
  const who = useWho();
  // Page tokens of the pages before this one, to go back.
  const [tokens, setTokens] = useState<string[]>([]);
  const token = tokens.at(-1);
  const list = useLive(
    () =>
      ok(
        api.jobs.$get({
          query: {
            order: "desc",
            pageSize: String(PAGE_SIZE),
            ...(query.get("status") ? { statuses: query.get("status")! } : {}),
            ...(query.get("tag") ? { tags: query.get("tag")! } : {}),
            ...(who.role === "admin" && query.get("user") ? { user: query.get("user")! } : {}),
            ...(query.get("after") ? { startTime: iso(query.get("after")!) } : {}),
            ...(query.get("before") ? { endTime: iso(query.get("before")!) } : {}),
            ...(token ? { pageToken: token } : {}),
          },
        }),
      ),
    // Not the search (`q`): it filters this page as one types, without asking again.
    [without(query, "q"), token],
  );
  const search = (query.get("q") ?? "").toLowerCase();
  const matching = (items: NonNullable<typeof list.data>["items"]) =>
    items.filter(
      (j) =>
        !search ||
        [j.id, j.name, j.command, j.exe, ...(j.args ?? []), ...(j.tags ?? [])].some((s) =>
          s?.toLowerCase().includes(search),
        ),
    );
  const filter = (values: Record<string, string>) => {
    setTokens([]);
    setQuery(values);
  };
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="filter jobs">
        <Field label="Status">
          <select
            value={query.get("status") ?? ""}
            onChange={(e) => filter({ status: e.currentTarget.value })}
          >
            <option value="">any</option>
            {JOB_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
        <QueryField label="Tag" param="tag" query={query} set={filter} />
        <QueryField label="Submitted after" param="after" type="datetime-local" query={query} set={filter} />
        <QueryField
          label="Submitted before"
          param="before"
          type="datetime-local"
          query={query}
          set={filter}
        />
        {who.role === "admin" ? (
          <QueryField
            label="User"
            param="user"
            hint="* for everyone"
            placeholder={who.name}
            query={query}
            set={filter}
          />
        ) : null}
        <QueryField
          label="Search"
          param="q"
          hint="name, command, id or tag, on this page"
          type="search"
          query={query}
        />
      </form>
      <Loaded live={list}>
        {(data) => (
          <>
            <Table
              rows={matching(data.items)}
              keyOf={(j) => j.id}
              empty={
                search || query.toString() ? "No jobs match." : "No jobs yet: npx berth run -- nvidia-smi"
              }
              columns={[
                { header: "Job", cell: (j) => <Link to={`/jobs/${j.id}`}>{j.name || j.id}</Link> },
                {
                  header: "Command",
                  cell: (j) => (
                    <code>{(j.command ?? [j.exe, ...(j.args ?? [])].join(" ")).slice(0, 60)}</code>
                  ),
                },
                { header: "User", cell: (j) => j.user },
                { header: "Status", cell: (j) => <Status value={j.status} /> },
                { header: "Exit", cell: (j) => j.exitCode ?? "—" },
                { header: "GPUs", cell: (j) => j.gpus?.count ?? 0 },
                { header: "Host", cell: (j) => j.host ?? "—" },
                { header: "Submitted", cell: (j) => <Ago at={j.submissionTime} /> },
              ]}
            />
            <nav class="pager" aria-label="pages">
              <button
                type="button"
                disabled={tokens.length === 0}
                onClick={() => setTokens(tokens.slice(0, -1))}
              >
                Newer
              </button>
              <button
                type="button"
                disabled={!data.nextPageToken}
                onClick={() => setTokens([...tokens, data.nextPageToken!])}
              >
                Older
              </button>
            </nav>
          </>
        )}
      </Loaded>
    </>
  );
}

export const jobs: Page = { path: "/jobs", title: "Jobs", nav: true, component: Jobs };
