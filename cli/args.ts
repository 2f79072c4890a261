import { parseDuration } from "../shared/domain/duration.ts";
import { CliError } from "./errors.ts";

/** Commander collector for options that may repeat (`--label a=b --label c=d`). */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `key=value` items into a map; `flag` names the option in the error. */
export function pairs(items: string[] | undefined, flag: string): Record<string, string> | undefined {
  if (!items || items.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new CliError(`${flag} "${item}": expected key=value`, 2);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** `--expires-in 12h` or `--expires-at <RFC 3339>` into an ISO timestamp. */
export function expiry(o: { expiresIn?: string; expiresAt?: string }): string | undefined {
  if (o.expiresIn && o.expiresAt) throw new CliError("give --expires-in or --expires-at, not both", 2);
  if (!o.expiresIn) return o.expiresAt;
  const s = parseDuration(o.expiresIn);
  if (!s) throw new CliError(`--expires-in: "${o.expiresIn}" is not a duration like 12h or 90d`, 2);
  return new Date(Date.now() + s * 1000).toISOString();
}

/** A positive whole number option. */
export function wholeNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < 1)
    throw new CliError(`${flag} must be a whole number ≥ 1`, 2);
  return Number(value);
}

export const labelText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
