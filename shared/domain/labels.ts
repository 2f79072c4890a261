/**
 * Node labels, with GPUd's rules (applied client-side by GPUd and again here). GPUd sends keys with
 * the managed prefix `user.node.lepton.ai/` (or without it, and the prefix is implied); Berth stores
 * and shows the name after the prefix, and accepts both forms everywhere labels are written.
 */
export const MANAGED_LABEL_PREFIX = "user.node.lepton.ai/";
export const MAX_NODE_LABELS = 8;
/** A device carries its own labels (at most 8 from the node) and its token's (at most 8). */
export const MAX_DEVICE_LABELS = 2 * MAX_NODE_LABELS;

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export type Labels = Record<string, string>;

export type LabelCheck = { ok: true; labels: Labels } | { ok: false; error: string };

/**
 * Normalises and validates a label set: strips the managed prefix, refuses two keys that normalise
 * to the same name, more than `max` labels, names that are not 1-63 characters of
 * `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?` (so no further `/`), and values over 63 characters or
 * not matching the same pattern (empty values are allowed).
 */
export function normalizeLabels(input: Record<string, unknown>, max = MAX_NODE_LABELS): LabelCheck {
  const entries = Object.entries(input);
  if (entries.length > max)
    return { ok: false, error: `at most ${max} labels are allowed, got ${entries.length}` };
  const labels: Labels = {};
  const from: Record<string, string> = {};
  for (const [rawKey, value] of entries) {
    const name = rawKey.startsWith(MANAGED_LABEL_PREFIX) ? rawKey.slice(MANAGED_LABEL_PREFIX.length) : rawKey;
    if (typeof value !== "string") return { ok: false, error: `label "${rawKey}" must have a string value` };
    if (name.length === 0 || name.length > 63) {
      return { ok: false, error: `label name "${name}" must be 1-63 characters (got ${name.length})` };
    }
    if (name.includes("/")) {
      return { ok: false, error: `label key "${rawKey}" may only use the prefix ${MANAGED_LABEL_PREFIX}` };
    }
    if (!NAME.test(name)) {
      return {
        ok: false,
        error: `label name "${name}" must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'`,
      };
    }
    if (value.length > 63) return { ok: false, error: `label "${name}" has a value over 63 characters` };
    if (value !== "" && !NAME.test(value)) {
      return {
        ok: false,
        error: `label "${name}" value "${value}" must be empty or start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'`,
      };
    }
    // Own keys only: a label may be called `constructor` or `toString`.
    if (Object.hasOwn(labels, name)) {
      return {
        ok: false,
        error: `label keys "${from[name]}" and "${rawKey}" both normalise to ${MANAGED_LABEL_PREFIX}${name}`,
      };
    }
    labels[name] = value;
    from[name] = rawKey;
  }
  return { ok: true, labels };
}

/** The labels in GPUd's form, with the managed prefix. */
export const toGpudLabels = (labels: Labels): Labels =>
  Object.fromEntries(Object.entries(labels).map(([k, v]) => [`${MANAGED_LABEL_PREFIX}${k}`, v]));

/** Whether `labels` carries every `key=value` of `selector`. */
export const labelsMatch = (labels: Labels, selector: Labels): boolean =>
  Object.entries(selector).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);

/** Environment variable names as POSIX shells accept them. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
