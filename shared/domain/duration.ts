const UNITS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/**
 * Parses a human duration (`90s`, `15m`, `2h`, `30d`, `1h30m`, or a bare number of seconds) into whole
 * seconds. Returns undefined for anything else.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  if (!/^(\d+[smhd])+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, n, unit] of trimmed.matchAll(/(\d+)([smhd])/g))
    total += Number(n) * UNITS[unit as keyof typeof UNITS];
  return total;
}
