import type { Db } from "../../../shared/adapters/dynamo/client.ts";
import { BerthError } from "../../../shared/domain/errors.ts";
import { newId } from "../../../shared/domain/ids.ts";
import type { Repositories } from "../../../shared/ports/repositories.ts";

/** What every contract suite gets: the repositories and the raw table, both ready once beforeAll ran. */
export interface ContractContext {
  repos: () => Repositories;
  db: () => Db;
}

/** The error code a promise rejects with, or "resolved". */
export const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (err: unknown) => (err instanceof BerthError ? err.code : String(err)),
  );

/** A fresh workspace id, so suites sharing a table never see each other's objects. */
export const ws = () => `ws-${newId().slice(-10)}`;
