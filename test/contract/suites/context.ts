import { BerthError } from "../../../shared/domain/errors.ts";
import { newId } from "../../../shared/domain/ids.ts";
import type { Repositories, Write } from "../../../shared/ports/repositories.ts";
import type { Store } from "../../../shared/ports/store.ts";

/** What every contract suite gets: the repositories and the raw table, both ready once beforeAll ran. */
export interface ContractContext {
  repos: () => Repositories;
  db: () => Store;
}

/** The error code a promise rejects with, or "resolved". */
export const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (err: unknown) => (err instanceof BerthError ? err.code : String(err)),
  );

/** A fresh workspace id, so suites sharing a table never see each other's objects. */
export const ws = () => `ws-${newId().slice(-10)}`;

/** Commits writes alone (one transaction); whether every condition held. */
export const commits = async (repos: Repositories, ...writes: Write[]) => (await repos.commit(writes)).ok;
