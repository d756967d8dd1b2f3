/** The value `run` throws; fails the test if it returns normally. */
export function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw, but it returned normally');
}

/** The reason `promise` rejects with, so a test can assert on its fields; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, got a value');
}

/** `code` of an error-like value, or undefined. */
export function codeOf(value: unknown): unknown {
  return (value as { code?: unknown } | null | undefined)?.code;
}
