import { chmod, chown, mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { secretsRoot } from "../../agent/secrets.ts";

/** Where the agent writes secrets: only a tmpfs directory of its own (specs/secrets.md §5). */
describe("the agent's secrets root", () => {
  let shm: string;
  let disk: string;
  beforeAll(async () => {
    shm = await mkdtemp("/dev/shm/berth-test-root-");
    disk = await mkdtemp(join(tmpdir(), "berth-test-disk-"));
  });
  afterAll(async () => {
    await rm(shm, { recursive: true, force: true });
    await rm(disk, { recursive: true, force: true });
  });
  const at = (path: string) => secretsRoot({ BERTH_AGENT_SECRETS_ROOT: path });

  it("makes its directory 0700 on a tmpfs, or takes one it owns that is closed to others", async () => {
    expect(await at(join(shm, "made"))).toBe(join(shm, "made"));
    await mkdir(join(shm, "kept"), { mode: 0o700 });
    expect(await at(join(shm, "kept"))).toBe(join(shm, "kept"));
  });

  it("refuses a disk, a symlink planted on the tmpfs (to a disk), and a directory others may enter", async () => {
    expect(await at(join(disk, "secrets"))).toBeUndefined();
    await symlink(disk, join(shm, "planted"));
    expect(await at(join(shm, "planted"))).toBeUndefined();
    await mkdir(join(shm, "open"));
    await chmod(join(shm, "open"), 0o777);
    expect(await at(join(shm, "open"))).toBeUndefined();
    // Another user's, made first (as root here, the test can hand it to one).
    if (process.getuid?.() === 0) {
      await mkdir(join(shm, "theirs"), { mode: 0o700 });
      await chown(join(shm, "theirs"), 1000, 1000);
      expect(await at(join(shm, "theirs"))).toBeUndefined();
    }
  });
});
