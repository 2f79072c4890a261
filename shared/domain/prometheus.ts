/**
 * The Prometheus text exposition format (version 0.0.4): `# HELP`, `# TYPE`, then one line per sample,
 * label values escaped (backslash, double quote, line feed). Written by hand: the format is a page long,
 * and a client library's process-global registry does not fit metrics computed per request.
 */
export type MetricType = "gauge" | "counter";
export type Labels = Record<string, string | number>;

export interface Metric {
  name: string;
  help: string;
  type: MetricType;
  samples: { labels?: Labels; value: number }[];
}

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

const labelText = (labels: Labels | undefined) => {
  const entries = Object.entries(labels ?? {});
  return entries.length ? `{${entries.map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(",")}}` : "";
};

const valueText = (v: number) =>
  Number.isNaN(v) ? "NaN" : v === Number.POSITIVE_INFINITY ? "+Inf" : v === -Infinity ? "-Inf" : String(v);

/** The metrics as one text body; a metric without samples is left out. */
export function exposition(metrics: Metric[]): string {
  const lines: string[] = [];
  for (const m of metrics) {
    if (m.samples.length === 0) continue;
    lines.push(`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${m.type}`);
    for (const s of m.samples) lines.push(`${m.name}${labelText(s.labels)} ${valueText(s.value)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Counts of `items` by the labels `key` gives, as samples. */
export function countBy<T>(items: T[], key: (item: T) => Labels): { labels: Labels; value: number }[] {
  const counts = new Map<string, { labels: Labels; value: number }>();
  for (const item of items) {
    const labels = key(item);
    const id = JSON.stringify(labels);
    const entry = counts.get(id) ?? { labels, value: 0 };
    entry.value++;
    counts.set(id, entry);
  }
  return [...counts.values()];
}
