/** A promise whose settle functions are exposed, for turning callbacks into something to await. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A countdown: `done` resolves once `hit` has been called `count` times. */
export function latch(count: number): { hit(): void; readonly done: Promise<void> } {
  const all = deferred();
  let left = count;
  if (left <= 0) all.resolve();
  return {
    hit() {
      if (--left === 0) all.resolve();
    },
    done: all.promise,
  };
}

/**
 * Rejects with `what` if `promise` has not settled within `ms`. Only a safety net, so a broken
 * build fails with a message instead of at Jest's timeout; the timer never outlives the promise.
 * Tests wait on events; `ms` is seconds, never a bound on how fast something must happen.
 */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Resolves on the check phase of the event loop: every pending `process.nextTick` callback and
 * microtask has run by then, and so has I/O that was already due. Not a timer.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Keeps turning the event loop until `ms` have passed: long enough for a periodic producer
 * to have ticked again if it were still running. A window for observing an absence, not a
 * wait for something to happen.
 */
export async function turnsFor(ms: number): Promise<void> {
  const until = performance.now() + ms;
  do await nextTurn();
  while (performance.now() < until);
}
