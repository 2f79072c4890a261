import { Secret } from "../../domain/secret.ts";
import type { SecretRepository } from "../../ports/repositories/secrets.ts";
import { c, type Store } from "../../ports/store.ts";
import { createWrite, itemOf, parseItem, queryPage, write } from "./base.ts";
import { keys } from "./keys.ts";

const parse = (item: Record<string, unknown>) => parseItem(Secret, "secret", item);

/** Secrets, in their workspace's partition (`WS#<ws>` / `SECRET#<ns>#<name>`): metadata and ciphertext. */
export function secretRepository(store: Store): SecretRepository {
  return {
    async get(ws, ns, name) {
      const item = await store.get(keys.secret(ws, ns, name));
      return item ? parse(item) : undefined;
    },
    // Create vs create of one name: the name is the key, so one is stored and the other refused.
    create: (secret) =>
      createWrite(
        `secret ${secret.name}`,
        itemOf(keys.secret(secret.workspaceId, secret.namespace, secret.name), secret),
      ),
    // Two updates at once: conditional on the revision read, so the loser reads again.
    async replace(current, next) {
      const key = keys.secret(current.workspaceId, current.namespace, current.name);
      const out = await store.put(itemOf(key, next), { if: c.eq("revision", current.revision) });
      return out.ok ? next : undefined;
    },
    check: (ws, ns, name, type) =>
      write(`secret ${name}`, {
        check: keys.secret(ws, ns, name),
        if: c.and(c.exists(), type === undefined ? undefined : c.eq("type", type)),
      }),
    delete: (ws, ns, name) => write(`secret ${name}`, { delete: keys.secret(ws, ns, name), if: c.exists() }),
    list: (ws, ns, page, type) =>
      queryPage(
        store,
        { partition: keys.workspace(ws).pk, range: { prefix: keys.secretsPrefix(ns) } },
        (item) => {
          const secret = parse(item);
          return !type || secret.type === type ? secret : undefined;
        },
        page,
      ),
  };
}
