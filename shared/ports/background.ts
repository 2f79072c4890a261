/**
 * Bookkeeping that need not hold up an answer (marking reservations delivered). A long-running host
 * detaches it and drains it before shutting down; Lambda, which may freeze a container once it has
 * answered, runs it to completion first.
 */
export interface Background {
  run(task: () => Promise<unknown>): Promise<void>;
  /** Waits for everything started so far (shutdown, tests). */
  drain(): Promise<void>;
}

export function detachedBackground(onError: (err: Error) => void): Background {
  const running = new Set<Promise<unknown>>();
  return {
    async run(task) {
      const p = task()
        .catch((err: Error) => onError(err))
        .finally(() => running.delete(p));
      running.add(p);
    },
    async drain() {
      while (running.size > 0) await Promise.all(running);
    },
  };
}

export function awaitedBackground(onError: (err: Error) => void): Background {
  return {
    async run(task) {
      await task().catch((err: Error) => onError(err));
    },
    async drain() {},
  };
}
