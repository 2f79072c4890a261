import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerConfig, removeSecrets } from "../../agent/secrets.ts";
import { registryTarget, seal, sealedAad } from "../../shared/domain/sealed.ts";
import { publicKeyToBase64 } from "../../shared/domain/signing.ts";

/** An application container's registry credentials on the device (specs/applications.md §4). */
describe("dockerConfig", () => {
  let root: string;
  const saved = process.env.BERTH_AGENT_SECRETS_ROOT;
  beforeAll(async () => {
    root = await mkdtemp("/dev/shm/berth-test-registry-");
    process.env.BERTH_AGENT_SECRETS_ROOT = root;
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.BERTH_AGENT_SECRETS_ROOT;
    else process.env.BERTH_AGENT_SECRETS_ROOT = saved;
    await rm(root, { recursive: true, force: true });
  });

  it("writes a 0600 config.json on the tmpfs with each server's credentials (Docker Hub under the CLI's key); removeSecrets takes it and the env files", async () => {
    const keys = generateKeyPairSync("x25519");
    const node = publicKeyToBase64(keys.publicKey);
    const sealedFor = (server: string, password: string) =>
      seal(node, Buffer.from(password), sealedAad("m1", "r1", registryTarget(server)));
    const config = await dockerConfig(keys.privateKey, "m1", "r1", "web", [
      { serverAddress: "ghcr.io", username: "acme", password: sealedFor("ghcr.io", "pat-1") },
      { serverAddress: "docker.io", username: "hub", password: sealedFor("docker.io", "hub-pw") },
    ]);
    expect(config!.values).toEqual(["pat-1", "hub-pw"]);
    const file = join(config!.dir, "config.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const auths = (JSON.parse(await readFile(file, "utf8")) as { auths: Record<string, { auth: string }> })
      .auths;
    expect(Object.keys(auths).sort()).toEqual(["ghcr.io", "https://index.docker.io/v1/"]);
    expect(Buffer.from(auths["ghcr.io"]!.auth, "base64").toString()).toBe("acme:pat-1");
    // Sealed to another reservation: refused, nothing written.
    await expect(
      dockerConfig(keys.privateKey, "m1", "r2", "web", [
        { serverAddress: "ghcr.io", username: "acme", password: sealedFor("ghcr.io", "pat-1") },
      ]),
    ).rejects.toThrow(/cannot decrypt the registry password for ghcr.io/);
    // What an agent cut short leaves of a reservation goes with it; another reservation's stays.
    await writeFile(join(root, "secrets", "r1.web.env"), "K=v\n");
    await writeFile(join(root, "secrets", "r10.env"), "K=v\n");
    await removeSecrets("r1");
    expect((await readdir(join(root, "secrets"))).sort()).toEqual(["r10.env"]);
  });
});
