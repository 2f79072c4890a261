import { describe, expect, it } from "vitest";
import { localKeyWrapper } from "../../shared/adapters/local/key-wrapper.ts";
import { deriveKeys, newServerSecret } from "../../shared/domain/secrets.ts";
import { DATA_KEY_CACHE_MS, secretKeyring } from "../../shared/usecases/secrets/keyring.ts";
import { testApp } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { snapshot } from "../helpers/db.ts";

describe("the secrets keyring (secrets.md §2)", () => {
  const setup = async (serverSecret = newServerSecret()) => {
    const t = await testApp();
    const clock = manualClock();
    let unwraps = 0;
    const wrapper = localKeyWrapper(deriveKeys(serverSecret).secretsKek);
    const counting = {
      ...wrapper,
      unwrap: (c: string, w: string) => {
        unwraps++;
        return wrapper.unwrap(c, w);
      },
    };
    const ring = () => secretKeyring({ dataKeys: t.deps.repos.dataKeys, wrapper: counting, clock });
    return { t, clock, ring, unwraps: () => unwraps };
  };

  it("makes a workspace's key on first use, stores it only wrapped, and gives the same key after", async () => {
    const { t, ring } = await setup();
    const a = await ring().current("default");
    expect(a.key).toHaveLength(32);
    expect(await snapshot(t.db)).not.toContain(a.key.toString("base64"));
    expect(await snapshot(t.db)).not.toContain(a.key.toString("base64url"));
    // Another process (another keyring on the same store) finds the same key.
    expect((await ring().current("default")).key.equals(a.key)).toBe(true);
    expect((await ring().get("default", a.keyId)).equals(a.key)).toBe(true);
    // Each workspace has its own.
    expect((await ring().current("other")).key.equals(a.key)).toBe(false);
  });

  it("keeps one key when two processes make a workspace's first at once", async () => {
    const { ring } = await setup();
    const [a, b] = await Promise.all([ring().current("default"), ring().current("default")]);
    expect(a.key.equals(b.key)).toBe(true);
  });

  it("unwraps on a cache miss only, and again once the cache time is over", async () => {
    const { ring, clock, unwraps } = await setup();
    await ring().current("default");
    const r = ring();
    await r.get("default", "k1");
    await r.get("default", "k1");
    expect(unwraps()).toBe(1);
    clock.advance(DATA_KEY_CACHE_MS + 1);
    await r.get("default", "k1");
    expect(unwraps()).toBe(2);
  });

  it("cannot open a workspace's key with another server secret (a lost server secret loses the values)", async () => {
    const { t, ring } = await setup();
    await ring().current("default");
    const other = secretKeyring({
      dataKeys: t.deps.repos.dataKeys,
      wrapper: localKeyWrapper(deriveKeys(newServerSecret()).secretsKek),
      clock: manualClock(),
    });
    await expect(other.get("default", "k1")).rejects.toThrow();
    await expect(ring().get("default", "k9")).rejects.toThrow(/no data key k9/);
  });
});
