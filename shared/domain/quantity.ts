const BINARY = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 } as const;
const DECIMAL = { m: 1e-3, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 } as const;

/**
 * Parses a Kubernetes quantity string (`8`, `500m`, `32Gi`, `1.5G`, `1e3`) into a number of base
 * units. Returns undefined for anything else, for a negative value, or for one beyond 2^53 (no machine has
 * that much of anything, and no engine stores it exactly).
 */
export function parseQuantity(text: string): number | undefined {
  const n = quantity(text);
  return n !== undefined && Number.isFinite(n) && n <= Number.MAX_SAFE_INTEGER ? n : undefined;
}

function quantity(text: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:([eE][-+]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|K|M|G|T|P|E))?$/.exec(
    text.trim(),
  );
  if (!m) return undefined;
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  const suffix = m[3];
  if (!suffix) return base;
  return (
    base *
    (suffix in BINARY ? BINARY[suffix as keyof typeof BINARY] : DECIMAL[suffix as keyof typeof DECIMAL])
  );
}

/** A GPU count: a non-negative integer written in decimal digits only, at most MAX_GPU_COUNT. */
export function parseGpuCount(text: string): number | undefined {
  const n = /^[0-9]+$/.test(text.trim()) ? Number(text.trim()) : undefined;
  return n !== undefined && n <= MAX_GPU_COUNT ? n : undefined;
}

/** More GPUs than any one machine has. */
export const MAX_GPU_COUNT = 1024;
