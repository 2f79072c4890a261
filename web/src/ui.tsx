import { type ComponentChildren, cloneElement, type JSX } from "preact";
import { useId, useState } from "preact/hooks";
import { ApiError } from "./api.ts";
import type { Live } from "./live.ts";
import { href, navigate, setQuery } from "./router.ts";

/** "3 min ago" for an ISO time (and the exact time on hover). */
export function Ago({ at }: { at?: string }) {
  if (!at) return <span>—</span>;
  const s = Math.max(0, Math.round((Date.now() - Date.parse(at)) / 1000));
  const text =
    s < 60
      ? `${s} s ago`
      : s < 3600
        ? `${Math.floor(s / 60)} min ago`
        : s < 86400
          ? `${Math.floor(s / 3600)} h ago`
          : `${Math.floor(s / 86400)} d ago`;
  return (
    <time dateTime={at} title={new Date(at).toLocaleString()}>
      {text}
    </time>
  );
}

/** A link inside the dashboard (no page load). */
export function Link(props: { to: string; children: ComponentChildren; class?: string }) {
  return (
    <a
      href={href(props.to)}
      class={props.class}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        navigate(props.to);
      }}
    >
      {props.children}
    </a>
  );
}

const TONE: Record<string, string> = {
  Running: "good",
  online: "good",
  Finished: "good",
  Pending: "wait",
  Suspended: "wait",
  cordoned: "wait",
  draining: "wait",
  Failed: "bad",
  Killed: "bad",
  offline: "bad",
  Canceled: "muted",
  // Applications and their deployments (Synpse's states).
  active: "good",
  running: "good",
  pending: "wait",
  created: "wait",
  deleting: "wait",
  failed: "bad",
  unknown: "bad",
  // Labs (Nublado's states).
  terminating: "wait",
  terminated: "muted",
  // GPU health (GPUd's states).
  Healthy: "good",
  Degraded: "wait",
  Initializing: "wait",
  Unhealthy: "bad",
  Unknown: "muted",
};

/** A status as a word with a colour (the word carries the meaning; the colour only helps). */
export function Status({ value }: { value?: string }) {
  return <span class={`status ${TONE[value ?? ""] ?? "muted"}`}>{value ?? "—"}</span>;
}

/** Use of a limit as a bar, with the numbers in words (for screen readers too). */
export function Bar({ used, limit, label }: { used: number; limit?: number; label: string }) {
  return (
    <div class="bar-row">
      <span class="bar-label">{label}</span>
      <meter class="bar" aria-label={label} min={0} max={limit ?? Math.max(used, 1)} value={used} />
      <span class="bar-value">
        {used} of {limit ?? "no limit"}
      </span>
    </div>
  );
}

export function ErrorNote({ error }: { error?: { message: string; code?: string } }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.message}
      {error.code ? <span class="code"> ({error.code})</span> : null}
    </p>
  );
}

export function Loading() {
  return (
    <p class="muted" aria-live="polite">
      Loading…
    </p>
  );
}

export interface Column<T> {
  header: string;
  cell: (row: T) => ComponentChildren;
}

export function Table<T>(props: {
  rows: T[];
  columns: Column<T>[];
  keyOf: (row: T) => string;
  empty: string;
  caption?: string;
}) {
  if (props.rows.length === 0) return <p class="muted">{props.empty}</p>;
  return (
    <table>
      {props.caption ? <caption>{props.caption}</caption> : null}
      <thead>
        <tr>
          {props.columns.map((c) => (
            <th scope="col" key={c.header}>
              {c.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows.map((r) => (
          <tr key={props.keyOf(r)}>
            {props.columns.map((c) => (
              <td key={c.header}>{c.cell(r)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * A button that runs an API action, says it is busy, and shows the API's own message when it is refused
 * (the same words the CLI prints).
 */
export function Action(props: {
  label: string;
  run: () => Promise<unknown>;
  done?: () => void;
  confirm?: string;
  danger?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const click = async () => {
    if (props.confirm && !window.confirm(props.confirm)) return;
    setBusy(true);
    setError(undefined);
    try {
      await props.run();
      props.done?.();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, "Error", (err as Error).message));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button type="button" class={props.danger ? "danger" : undefined} disabled={busy} onClick={click}>
        {busy ? `${props.label}…` : props.label}
      </button>
      <ErrorNote error={error} />
    </span>
  );
}

export function Field(props: { label: string; children: JSX.Element; hint?: string }) {
  // The label names the control by its id: its name is the label alone ("Status", not "Status any").
  const id = useId();
  const hint = props.hint ? `${id}-hint` : undefined;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {cloneElement(props.children, { id, "aria-describedby": hint })}
      {props.hint ? (
        <small class="muted" id={hint}>
          {props.hint}
        </small>
      ) : null}
    </div>
  );
}

/** What live data shows: its error, "Loading…" until its first answer, then `children(data)`. */
export function Loaded<T>(props: { live: Live<T>; children: (data: T) => ComponentChildren }) {
  const { data, error } = props.live;
  return (
    <>
      <ErrorNote error={error} />
      {data !== undefined ? props.children(data) : error ? null : <Loading />}
    </>
  );
}

/**
 * A filter kept in the page's query (`?status=online`), so that a filtered page can be linked and reloaded.
 * Text applies on change (Enter or leaving the field); `search` applies as one types.
 */
export function QueryField(props: {
  label: string;
  param: string;
  query: URLSearchParams;
  hint?: string;
  type?: "text" | "search" | "datetime-local";
  placeholder?: string;
  /** Instead of setting the query alone (e.g. also going back to the first page). */
  set?: (values: Record<string, string>) => void;
}) {
  const set = props.set ?? setQuery;
  const value = props.query.get(props.param) ?? "";
  const apply = (e: { currentTarget: HTMLInputElement }) => set({ [props.param]: e.currentTarget.value });
  return (
    <Field label={props.label} hint={props.hint}>
      {props.type === "search" ? (
        <input type="search" value={value} placeholder={props.placeholder} onInput={apply} />
      ) : props.type === "datetime-local" ? (
        <input type="datetime-local" value={value} onChange={apply} />
      ) : (
        <input type="text" value={value} placeholder={props.placeholder} onChange={apply} />
      )}
    </Field>
  );
}
