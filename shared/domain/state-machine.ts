/**
 * A state machine as data: its states' allowed moves. `transition()` is the only way a status or state is
 * written: it checks the table and returns a `Transition`, which repositories write conditionally on the
 * entity still being where it was read (`from` and its `version`). Generic updates cannot carry a status.
 */

declare const moved: unique symbol;

/** A partial update of `T`: a field left out stays, `null` removes it. */
export type Patch<T> = { [K in keyof T]?: T[K] | null };

/** A checked move of one entity from `from` to `to`, with the fields that change with it. */
export interface Transition<S extends string, P> {
  readonly [moved]: true;
  readonly machine: string;
  readonly from: S;
  readonly to: S;
  readonly patch: P;
}

/** Thrown for a move the table forbids: a bug in the caller (a race is checked with `canMove` first). */
export class InvalidTransitionError extends Error {
  constructor(machine: string, from: string, to: string) {
    super(`${machine}: ${from} → ${to} is not an allowed move`);
    this.name = "InvalidTransitionError";
  }
}

export interface StateMachine<S extends string> {
  readonly name: string;
  readonly table: Readonly<Record<S, readonly S[]>>;
  canMove(from: S, to: S): boolean;
  isFinal(s: S): boolean;
  /** The move `from → to` with `patch`, or InvalidTransitionError. Staying put is not a transition. */
  transition<P>(from: S, to: S, patch: P): Transition<S, P>;
}

export function stateMachine<S extends string>(
  name: string,
  table: Readonly<Record<S, readonly S[]>>,
  final?: readonly S[],
): StateMachine<S> {
  const canMove = (from: S, to: S) => (table[from] as readonly S[]).includes(to);
  return {
    name,
    table,
    canMove,
    isFinal: (s) => (final ? final.includes(s) : table[s].length === 0),
    transition(from, to, patch) {
      if (!canMove(from, to)) throw new InvalidTransitionError(name, from, to);
      return { machine: name, from, to, patch } as unknown as Transition<S, typeof patch>;
    },
  };
}

export const isTransition = (x: unknown): x is Transition<string, unknown> =>
  typeof x === "object" && x !== null && "machine" in x && "from" in x && "to" in x && "patch" in x;
