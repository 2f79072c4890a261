import { describe, expect, it } from "vitest";
import { isId, newId } from "../../shared/domain/ids.ts";
import { hashToken, newToken, tokenId, tokenMatches } from "../../shared/domain/tokens.ts";

describe("newId", () => {
  it("makes 26-character ids that sort by creation time", () => {
    const a = newId(1_700_000_000_000);
    const b = newId(1_700_000_000_001);
    expect(isId(a)).toBe(true);
    expect(a < b).toBe(true);
    expect(a).not.toContain("_");
  });

  it("stays in creation order within one millisecond and when the clock steps back", () => {
    const ids = [
      newId(1_800_000_000_000),
      newId(1_800_000_000_000),
      newId(1_799_999_999_000),
      newId(1_800_000_000_000),
    ];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(4);
  });
});

describe("tokens", () => {
  it("embed the id of their object and 32 random bytes", () => {
    const id = newId();
    const token = newToken("apiKey", id);
    expect(token.startsWith(`berth_sk_${id}_`)).toBe(true);
    expect(tokenId("apiKey", token)).toBe(id);
    expect(newToken("apiKey", id)).not.toBe(token);
  });

  it.each([
    ["", "empty"],
    ["berth_sk_", "prefix only"],
    ["berth_rt_01m81mqp4wkpf2xk10sj2a7cdq_Ola20PW5W1p7TjjMa2Cklm0YUZT9ahhJspNtB6I_hv0", "another kind"],
    ["berth_sk_01m81mqp4wkpf2xk10sj2a7cdq_short", "short secret"],
    ["berth_sk_01M81MQP4WKPF2XK10SJ2A7CDQ_Ola20PW5W1p7TjjMa2Cklm0YUZT9ahhJspNtB6I_hv0", "upper-case id"],
    ["berth_sk_01m81mqp4wkpf2xk10sj2a7cdq-Ola20PW5W1p7TjjMa2Cklm0YUZT9ahhJspNtB6I_hv0", "wrong separator"],
  ])("refuse %j (%s)", (token) => {
    expect(tokenId("apiKey", token)).toBeUndefined();
  });

  it("match only their own hash", () => {
    const token = newToken("session", newId());
    expect(tokenMatches(token, hashToken(token))).toBe(true);
    expect(tokenMatches(token, hashToken(`${token}x`))).toBe(false);
    expect(tokenMatches(token, "not-hex")).toBe(false);
  });
});
