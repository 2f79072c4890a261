import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** Every byte of every file under `dir`, as one text (to check that a value was never written in clear). */
export async function allBytes(dir: string): Promise<string> {
  let out = "";
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []))
    if (entry.isFile())
      out += (await readFile(join(entry.parentPath, entry.name)).catch(() => Buffer.alloc(0))).toString(
        "latin1",
      );
  return out;
}
