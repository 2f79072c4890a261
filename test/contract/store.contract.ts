import { describe, expect, it } from "vitest";
import { newId } from "../../shared/domain/ids.ts";
import { c, type Item, type Store } from "../../shared/ports/store.ts";
import { snapshot } from "../helpers/db.ts";

/**
 * The storage port's contract: what every engine (SQLite, PostgreSQL, DynamoDB) must do the same way.
 * Each test uses its own partition, so the suite can share one store.
 */
export function storeContract(store: () => Store) {
  const part = () => `T#${newId()}`;

  describe("Store: single items", () => {
    it("puts if absent, and a second put-if-absent fails with the item as it is, writing nothing", async () => {
      const pk = part();
      const first = await store().put({ pk, sk: "A", n: 1 }, { if: c.absent() });
      expect(first).toEqual({ ok: true, item: { pk, sk: "A", n: 1 } });
      const before = await snapshot(store());
      const second = await store().put({ pk, sk: "A", n: 2 }, { if: c.absent() });
      expect(second).toEqual({ ok: false, current: { pk, sk: "A", n: 1 } });
      expect(await snapshot(store())).toBe(before);
      expect(await store().get({ pk, sk: "A" })).toEqual({ pk, sk: "A", n: 1 });
    });

    it("reads several items at once, leaving out missing ones", async () => {
      const pk = part();
      await store().put({ pk, sk: "1", v: "a" });
      await store().put({ pk, sk: "2", v: "b" });
      const many = await store().getMany([
        { pk, sk: "1" },
        { pk, sk: "2" },
        { pk, sk: "3" },
      ]);
      expect(many.map((i) => i.v).sort()).toEqual(["a", "b"]);
      expect(await store().get({ pk, sk: "3" })).toBeUndefined();
      expect(await store().getMany([])).toEqual([]);
    });

    it("updates: set, remove, add (a missing number counts as 0), map paths, and returns the item after", async () => {
      const pk = part();
      await store().put({ pk, sk: "A", a: 1, b: "x", owners: { "0": "j1" }, nested: { deep: 1 } });
      const out = await store().update(
        { pk, sk: "A" },
        {
          set: { b: "y", "owners.1": "j2", skip: undefined },
          remove: ["a", "owners.0"],
          add: { count: 2, "nested.deep": 5 },
        },
      );
      expect(out).toEqual({
        ok: true,
        item: { pk, sk: "A", b: "y", owners: { "1": "j2" }, count: 2, nested: { deep: 6 } },
      });
      expect(await store().get({ pk, sk: "A" })).toEqual(out.ok ? out.item : undefined);
    });

    it("creates the item on update unless the condition requires it to exist", async () => {
      const pk = part();
      expect(await store().update({ pk, sk: "A" }, { add: { n: 1 } })).toEqual({
        ok: true,
        item: { pk, sk: "A", n: 1 },
      });
      const before = await snapshot(store());
      expect(await store().update({ pk, sk: "B" }, { set: { n: 1 } }, { if: c.exists() })).toEqual({
        ok: false,
        current: undefined,
      });
      expect(await snapshot(store())).toBe(before);
    });

    it("refuses an update that changes nothing, changes a key, overlaps paths, or sets inside a missing map", async () => {
      const pk = part();
      await store().put({ pk, sk: "A", m: {} });
      const before = await snapshot(store());
      await expect(store().update({ pk, sk: "A" }, {})).rejects.toThrow();
      await expect(store().update({ pk, sk: "A" }, { set: { pk: "other" } })).rejects.toThrow();
      await expect(store().update({ pk, sk: "A" }, { set: { m: {} }, remove: ["m.x"] })).rejects.toThrow();
      await expect(store().update({ pk, sk: "A" }, { set: { "missing.x": 1 } })).rejects.toThrow();
      await expect(store().update({ pk, sk: "A" }, { remove: ["missing.x"] })).rejects.toThrow();
      // Invalid even when the condition fails, and in a transaction whose first condition fails.
      await expect(store().update({ pk, sk: "A" }, {}, { if: c.eq("n", 1) })).rejects.toThrow();
      await expect(
        store().transact([
          { check: { pk, sk: "A" }, if: c.eq("n", 1) },
          { update: { pk, sk: "B" }, changes: { set: { pk: "x" } } },
        ]),
      ).rejects.toThrow();
      expect(await snapshot(store())).toBe(before);
    });

    it("evaluates conditions as DynamoDB does (missing attributes and other types compare false)", async () => {
      const pk = part();
      await store().put({ pk, sk: "A", n: 5, s: "m", f: true, max: 7 });
      const check = async (cond: Parameters<typeof c.and>[0]) =>
        (await store().update({ pk, sk: "A" }, { add: { touched: 1 } }, { if: cond })).ok;
      expect(await check(c.eq("n", 5))).toBe(true);
      expect(await check(c.eq("n", "5"))).toBe(false);
      expect(await check(c.eq("f", true))).toBe(true);
      expect(await check(c.lt("n", 6))).toBe(true);
      expect(await check(c.lt("n", 5))).toBe(false);
      expect(await check(c.le("n", 5))).toBe(true);
      expect(await check(c.gt("s", "l"))).toBe(true);
      expect(await check(c.ge("s", "n"))).toBe(false);
      expect(await check(c.lt("missing", 10))).toBe(false);
      expect(await check(c.not(c.eq("missing", 1)))).toBe(true);
      expect(await check(c.in("s", ["a", "m"]))).toBe(true);
      expect(await check(c.in("s", ["a", "b"]))).toBe(false);
      expect(await check(c.ltAttr("n", "max"))).toBe(true);
      expect(await check(c.ltAttr("max", "n"))).toBe(false);
      expect(await check(c.ltAttr("n", "missing"))).toBe(false);
      expect(await check(c.or(c.absent("max"), c.ltAttr("n", "max")))).toBe(true);
      expect(await check(c.and(c.exists(), c.exists("n"), c.absent("missing")))).toBe(true);
      expect(await check(c.and(c.exists(), c.absent("n")))).toBe(false);
      // And/or of one operand, also nested (DynamoDB refuses redundant parentheses).
      expect(await check(c.and(c.and(c.exists()), c.or(c.exists("n"))))).toBe(true);
      expect(await check(c.and(c.or(c.absent("n"))))).toBe(false);
      expect((await store().get({ pk, sk: "A" }))?.touched).toBe(11);
    });

    it("deletes only when the condition holds, returning what it was", async () => {
      const pk = part();
      await store().put({ pk, sk: "A", v: 1 });
      const refused = await store().delete({ pk, sk: "A" }, { if: c.eq("v", 2) });
      expect(refused).toEqual({ ok: false, current: { pk, sk: "A", v: 1 } });
      expect(await store().delete({ pk, sk: "A" }, { if: c.eq("v", 1) })).toEqual({
        ok: true,
        old: { pk, sk: "A", v: 1 },
      });
      expect(await store().get({ pk, sk: "A" })).toBeUndefined();
      expect(await store().delete({ pk, sk: "A" })).toEqual({ ok: true, old: undefined });
      expect(await store().delete({ pk, sk: "A" }, { if: c.exists() })).toEqual({
        ok: false,
        current: undefined,
      });
    });

    it("keeps values as written: nested objects, arrays, empty strings, unicode, NUL bytes", async () => {
      const pk = part();
      const item: Item = {
        pk,
        sk: "A",
        o: { a: [1, "two", { three: false }] },
        e: "",
        u: "ünï ✓ 🚀",
        z: "a\u0000b",
        big: 2 ** 52,
      };
      await store().put(item);
      expect(await store().get({ pk, sk: "A" })).toEqual(item);
    });

    it("keeps maps whose keys are Object's own names (constructor, toString...), in puts, updates and transactions", async () => {
      const pk = part();
      const odd = {
        constructor: "a",
        toString: "b",
        valueOf: { name: "Number" },
        hasOwnProperty: { constructor: { name: "Set" } },
      };
      const item: Item = { pk, sk: "A", labels: odd, list: [odd] };
      await store().put(item);
      expect(await store().get({ pk, sk: "A" })).toEqual(item);
      const updated = await store().update({ pk, sk: "A" }, { set: { env: odd, "labels.constructor": "c" } });
      expect(updated).toMatchObject({ ok: true, item: { env: odd, labels: { ...odd, constructor: "c" } } });
      await store().transact([
        { put: { pk, sk: "B", m: odd } },
        { update: { pk, sk: "A" }, changes: { set: { m: odd } } },
      ]);
      expect(await store().get({ pk, sk: "B" })).toEqual({ pk, sk: "B", m: odd });
      expect((await store().get({ pk, sk: "A" }))?.m).toEqual(odd);
    });
  });

  describe("Store: queries", () => {
    const fill = async (pk: string) => {
      for (const sk of ["A#1", "A#2", "A#3", "B#1", "C"]) await store().put({ pk, sk, v: sk });
    };

    it("reads a partition in sort-key order, by prefix and by range, both ways", async () => {
      const pk = part();
      await fill(pk);
      const sks = async (q: Partial<Parameters<Store["query"]>[0]>) =>
        (await store().query({ partition: pk, ...q })).items.map((i) => i.sk);
      expect(await sks({})).toEqual(["A#1", "A#2", "A#3", "B#1", "C"]);
      expect(await sks({ range: { prefix: "A#" } })).toEqual(["A#1", "A#2", "A#3"]);
      expect(await sks({ range: { prefix: "A#" }, order: "desc" })).toEqual(["A#3", "A#2", "A#1"]);
      expect(await sks({ range: { between: ["A#2", "B#1"] } })).toEqual(["A#2", "A#3", "B#1"]);
      expect(await sks({ range: { gt: "A#3" } })).toEqual(["B#1", "C"]);
      expect(await sks({ range: { ge: "A#3" } })).toEqual(["A#3", "B#1", "C"]);
      expect(await sks({ range: { lt: "A#2" } })).toEqual(["A#1"]);
      expect(await sks({ range: { le: "A#2" } })).toEqual(["A#1", "A#2"]);
      expect(await sks({ range: { prefix: "Z" } })).toEqual([]);
      expect(await sks({ range: { prefix: "" } })).toEqual(["A#1", "A#2", "A#3", "B#1", "C"]);
      expect(await sks({ range: { between: ["B", "A"] } })).toEqual([]);
    });

    it("pages with a limit: `last` only when more follow, resuming exactly after it", async () => {
      const pk = part();
      await fill(pk);
      const seen: string[] = [];
      let after: Record<string, unknown> | undefined;
      let pages = 0;
      do {
        const page = await store().query({ partition: pk, limit: 2, after });
        seen.push(...page.items.map((i) => i.sk));
        after = page.last;
        pages++;
      } while (after);
      expect(seen).toEqual(["A#1", "A#2", "A#3", "B#1", "C"]);
      expect(pages).toBe(3);
      const exact = await store().query({ partition: pk, range: { prefix: "A#" }, limit: 3 });
      expect(exact.items).toHaveLength(3);
      expect(exact.last).toBeUndefined();
      const back = await store().query({ partition: pk, order: "desc", limit: 2 });
      const rest = await store().query({ partition: pk, order: "desc", after: back.last });
      expect([...back.items, ...rest.items].map((i) => i.sk)).toEqual(["C", "B#1", "A#3", "A#2", "A#1"]);
    });

    it("queries the indexes; items without both index attributes are not in them", async () => {
      const g = part();
      const pk = part();
      await store().put({ pk, sk: "1", gsi1pk: g, gsi1sk: "b" });
      await store().put({ pk, sk: "2", gsi1pk: g, gsi1sk: "a", gsi2pk: g, gsi2sk: "x" });
      await store().put({ pk, sk: "3", gsi1pk: g, gsi1sk: "a2" });
      await store().put({ pk, sk: "4", gsi1pk: g });
      const one = await store().query({ index: "gsi1", partition: g });
      expect(one.items.map((i) => i.sk)).toEqual(["2", "3", "1"]);
      const paged = await store().query({ index: "gsi1", partition: g, limit: 1 });
      const next = await store().query({ index: "gsi1", partition: g, after: paged.last });
      expect([...paged.items, ...next.items].map((i) => i.sk)).toEqual(["2", "3", "1"]);
      expect((await store().query({ index: "gsi2", partition: g })).items.map((i) => i.sk)).toEqual(["2"]);
      // Leaving the index: the attributes removed.
      await store().update({ pk, sk: "2" }, { remove: ["gsi2pk", "gsi2sk"] });
      expect((await store().query({ index: "gsi2", partition: g })).items).toEqual([]);
    });

    it("scans every item, a page at a time", async () => {
      const pk = part();
      await fill(pk);
      const mine: string[] = [];
      let after: Record<string, unknown> | undefined;
      do {
        const page = await store().scan(after, 3);
        for (const item of page.items) if (item.pk === pk) mine.push(item.sk);
        after = page.last;
      } while (after);
      expect(mine.sort()).toEqual(["A#1", "A#2", "A#3", "B#1", "C"]);
    });
  });

  describe("Store: transactions", () => {
    it("writes all or nothing, saying which condition failed and what that item is", async () => {
      const pk = part();
      await store().put({ pk, sk: "counter", n: 1 });
      await store().put({ pk, sk: "gone", v: 1 });
      const before = await snapshot(store());
      const failed = await store().transact([
        { put: { pk, sk: "new", v: 1 }, if: c.absent() },
        { update: { pk, sk: "counter" }, changes: { add: { n: 1 } }, if: c.eq("n", 1) },
        { delete: { pk, sk: "gone" } },
        { check: { pk, sk: "guard" }, if: c.exists() },
      ]);
      expect(failed).toEqual({ ok: false, failed: 3, current: undefined });
      const stale = await store().transact([
        { put: { pk, sk: "new", v: 1 }, if: c.absent() },
        { update: { pk, sk: "counter" }, changes: { add: { n: 1 } }, if: c.eq("n", 0) },
      ]);
      expect(stale).toEqual({ ok: false, failed: 1, current: { pk, sk: "counter", n: 1 } });
      expect(await snapshot(store())).toBe(before);

      const done = await store().transact([
        { put: { pk, sk: "new", v: 1 }, if: c.absent() },
        { update: { pk, sk: "counter" }, changes: { add: { n: 1 } }, if: c.eq("n", 1) },
        { delete: { pk, sk: "gone" }, if: c.exists() },
        { check: { pk, sk: "other" }, if: c.absent() },
      ]);
      expect(done).toEqual({ ok: true });
      expect(await store().get({ pk, sk: "new" })).toEqual({ pk, sk: "new", v: 1 });
      expect((await store().get({ pk, sk: "counter" }))?.n).toBe(2);
      expect(await store().get({ pk, sk: "gone" })).toBeUndefined();
      const missing = await store().transact([
        { update: { pk, sk: "nope" }, changes: { set: { a: 1 } }, if: c.exists() },
      ]);
      expect(missing).toEqual({ ok: false, failed: 0, current: undefined });
    });

    it("refuses two writes of one item in a transaction, writing nothing", async () => {
      const pk = part();
      const before = await snapshot(store());
      await expect(
        store().transact([
          { put: { pk, sk: "A", v: 1 } },
          { update: { pk, sk: "A" }, changes: { set: { v: 2 } } },
        ]),
      ).rejects.toThrow();
      expect(await snapshot(store())).toBe(before);
    });
  });

  describe("Store: concurrency", () => {
    it("20 concurrent read-decide-write loops on one item each apply their change exactly once", async () => {
      const pk = part();
      await store().put({ pk, sk: "A", version: 1, seen: {} });
      const writers = Array.from({ length: 20 }, (_, i) => `w${i}`);
      await Promise.all(
        writers.map(async (w) => {
          let current = (await store().get({ pk, sk: "A" }))!;
          for (;;) {
            const out = await store().update(
              { pk, sk: "A" },
              { set: { [`seen.${w}`]: current.version }, add: { version: 1 } },
              { if: c.eq("version", current.version as number) },
            );
            if (out.ok) return;
            current = out.current!;
          }
        }),
      );
      const final = (await store().get({ pk, sk: "A" }))!;
      expect(final.version).toBe(21);
      expect(Object.keys(final.seen as object).sort()).toEqual([...writers].sort());
      // Each writer saw a distinct version when it won: no change was applied on top of a stale read.
      expect(new Set(Object.values(final.seen as object)).size).toBe(20);
    });

    it("20 concurrent transactions over the same two items keep them in step", async () => {
      const pk = part();
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          for (;;) {
            const a = await store().get({ pk, sk: "a" });
            const n = (a?.n as number | undefined) ?? 0;
            const out = await store().transact([
              {
                update: { pk, sk: "a" },
                changes: { add: { n: 1 } },
                if: n === 0 ? c.absent() : c.eq("n", n),
              },
              { update: { pk, sk: "b" }, changes: { add: { n: 1 } } },
            ]);
            if (out.ok) return;
          }
        }),
      );
      expect((await store().get({ pk, sk: "a" }))?.n).toBe(20);
      expect((await store().get({ pk, sk: "b" }))?.n).toBe(20);
    });

    it("20 concurrent counter adds all count", async () => {
      const pk = part();
      await Promise.all(Array.from({ length: 20 }, () => store().update({ pk, sk: "n" }, { add: { n: 1 } })));
      expect((await store().get({ pk, sk: "n" }))?.n).toBe(20);
    });
  });
}
