import { notFound } from "../../domain/errors.ts";
import { RegistrationToken } from "../../domain/registration-token.ts";
import type { RegistrationTokenRepository } from "../../ports/repositories.ts";
import { c, type Store } from "../../ports/store.ts";
import { createOnly, itemOf, parseItem, patchChanges, queryPage, write } from "./base.ts";
import { keys } from "./keys.ts";

const parse = (item: Record<string, unknown>) => parseItem(RegistrationToken, "registration token", item);

export function registrationTokenRepository(store: Store): RegistrationTokenRepository {
  const missing = (id: string) => notFound(`registration token ${id} not found`);
  return {
    async get(id) {
      const item = await store.get(keys.registrationToken(id));
      return item ? parse(item) : undefined;
    },
    // Id collision: never overwrite a token.
    create: (token) =>
      createOnly(
        store,
        `registration token ${token.id}`,
        itemOf(keys.registrationToken(token.id), token, {
          gsi1pk: keys.registrationTokensOf(token.workspaceId),
          gsi1sk: token.id,
        }),
      ),
    list: (workspaceId, page) =>
      queryPage(store, { index: "gsi1", partition: keys.registrationTokensOf(workspaceId) }, parse, page),
    async update(workspaceId, id, patch, at) {
      // A delete racing the update, or another workspace's id: only an existing token of this workspace changes.
      const out = await store.update(keys.registrationToken(id), patchChanges({ ...patch, updatedAt: at }), {
        if: c.and(c.exists(), c.eq("workspaceId", workspaceId)),
      });
      if (!out.ok) throw missing(id);
      return parse(out.item);
    },
    async delete(workspaceId, id) {
      // Another workspace's id must not delete anything.
      const out = await store.delete(keys.registrationToken(id), {
        if: c.and(c.exists(), c.eq("workspaceId", workspaceId)),
      });
      if (!out.ok) throw missing(id);
    },
    // Concurrent first logins: the counter and the cap are checked in one conditional write, so N racing
    // logins against maxRegistrations M register exactly M devices.
    claim: (id, now) =>
      write(`count a registration of token ${id}`, {
        update: keys.registrationToken(id),
        changes: { add: { deviceCount: 1 } },
        if: c.and(
          c.exists(),
          c.or(c.absent("maxRegistrations"), c.ltAttr("deviceCount", "maxRegistrations")),
          c.or(c.absent("expiresAt"), c.gt("expiresAt", now)),
        ),
      }),
    // A token deleted meanwhile stays deleted (no item recreated); the count never goes below zero.
    release: (id) =>
      write(`give back a registration of token ${id}`, {
        update: keys.registrationToken(id),
        changes: { add: { deviceCount: -1 } },
        if: c.and(c.exists(), c.gt("deviceCount", 0)),
      }),
  };
}
