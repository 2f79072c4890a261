import type { OutputFormat } from "./context.ts";

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | undefined | null;
}

/** Rows as an aligned text table (for people) or as JSON (for scripts). */
export function printRows<T>(format: OutputFormat, rows: T[], columns: Column<T>[], write = stdout): void {
  if (format === "json") {
    write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const cells = rows.map((row) => columns.map((col) => String(col.value(row) ?? "-")));
  const widths = columns.map((col, i) => Math.max(col.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  write(`${[line(columns.map((c) => c.header)), ...cells.map(line)].join("\n")}\n`);
}

/** One object: JSON, or `key: value` lines. */
export function printObject(format: OutputFormat, value: Record<string, unknown>, write = stdout): void {
  if (format === "json") {
    write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  const width = Math.max(...Object.keys(value).map((k) => k.length));
  const show = (v: unknown) =>
    v === undefined || v === null ? "-" : typeof v === "object" ? JSON.stringify(v) : String(v);
  write(
    `${Object.entries(value)
      .map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${show(v)}`)
      .join("\n")}\n`,
  );
}

function stdout(text: string) {
  process.stdout.write(text);
}

export const ago = (iso: string | undefined, now = Date.now()): string | undefined => {
  if (!iso) return undefined;
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 0) return iso;
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
};

/**
 * Exits with `code` once everything written to stdout and stderr is out: writes to a pipe are
 * asynchronous, and `process.exit` alone would cut `berth jobs logs -f | less` short.
 */
export async function exitWhenFlushed(code: number): Promise<never> {
  await Promise.all(
    [process.stdout, process.stderr].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.writableLength === 0) resolve();
          else s.write("", () => resolve());
        }),
    ),
  );
  process.exit(code);
}
