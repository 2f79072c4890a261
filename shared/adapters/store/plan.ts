import type { Item, Key, TransactResult, WriteOp, WriteResult } from "../../ports/store.ts";
import { MAX_TRANSACTION_OPS } from "../../ports/store.ts";
import { applyChanges, checkChanges, holds, InvalidChangeError } from "./evaluate.ts";

/**
 * The decision part of every SQL write, independent of the driver: given the item as it is (read under
 * the engine's lock), whether the write happens and what is written. `undefined` as the new item means
 * a delete.
 */
export type Planned =
  | { ok: true; next: Item | undefined; before: Item | undefined }
  | { ok: false; current: Item | undefined };

export const keyOfOp = (op: WriteOp): Key =>
  "put" in op
    ? { pk: op.put.pk, sk: op.put.sk }
    : "update" in op
      ? op.update
      : "delete" in op
        ? op.delete
        : op.check;

export function planOp(op: WriteOp, current: Item | undefined): Planned {
  // Changes are checked before the condition, as DynamoDB does: an invalid update is an error even when
  // its condition would have failed.
  if ("update" in op) checkChanges(op.changes);
  if (!holds(op.if, current)) return { ok: false, current };
  if ("put" in op) return { ok: true, next: structuredClone(op.put), before: current };
  if ("update" in op)
    return { ok: true, next: applyChanges(current, op.update, op.changes), before: current };
  if ("delete" in op) return { ok: true, next: undefined, before: current };
  return { ok: true, next: current, before: current };
}

/** Refuses what DynamoDB refuses: too many ops, or two ops on one item. */
export function checkTransaction(ops: WriteOp[]) {
  for (const op of ops) if ("update" in op) checkChanges(op.changes);
  if (ops.length === 0) throw new InvalidChangeError("a transaction needs at least one write");
  if (ops.length > MAX_TRANSACTION_OPS)
    throw new InvalidChangeError(
      `a transaction holds at most ${MAX_TRANSACTION_OPS} writes, got ${ops.length}`,
    );
  const seen = new Set<string>();
  for (const op of ops) {
    const k = keyOfOp(op);
    const id = `${k.pk}\u0000${k.sk}`;
    if (seen.has(id)) throw new InvalidChangeError(`a transaction writes ${k.pk}/${k.sk} twice`);
    seen.add(id);
  }
}

export const failedWrite = (current: Item | undefined): WriteResult => ({ ok: false, current });
export const failedTransaction = (failed: number, current: Item | undefined): TransactResult => ({
  ok: false,
  failed,
  current,
});
