import { notFound } from "../../domain/errors.ts";
import { Profile } from "../../domain/profile.ts";
import type { ProfileRepository } from "../../ports/repositories.ts";
import { c, type Store } from "../../ports/store.ts";
import { createOnly, itemOf, parseItem, patchChanges, queryPage } from "./base.ts";
import { keys } from "./keys.ts";

const parse = (item: Record<string, unknown>) => parseItem(Profile, "profile", item);

export function profileRepository(store: Store): ProfileRepository {
  const missing = (name: string) => notFound(`profile ${name} not found`);
  return {
    // Two creates of one name: the name is the key, so exactly one wins.
    create: (workspaceId, profile) =>
      createOnly(store, `profile ${profile.name}`, itemOf(keys.profile(workspaceId, profile.name), profile)),
    async get(workspaceId, name) {
      const item = await store.get(keys.profile(workspaceId, name));
      return item ? parse(item) : undefined;
    },
    list: (workspaceId, page) =>
      queryPage(
        store,
        { partition: keys.workspace(workspaceId).pk, range: { prefix: keys.profilesPrefix } },
        parse,
        page,
      ),
    async update(workspaceId, name, patch, at) {
      const { name: _name, ...rest } = patch;
      // A delete racing the update must not resurrect the profile.
      const out = await store.update(
        keys.profile(workspaceId, name),
        patchChanges({ ...rest, updatedAt: at }),
        {
          if: c.exists(),
        },
      );
      if (!out.ok) throw missing(name);
      return parse(out.item);
    },
    async delete(workspaceId, name) {
      const out = await store.delete(keys.profile(workspaceId, name), { if: c.exists() });
      if (!out.ok) throw missing(name);
    },
  };
}
