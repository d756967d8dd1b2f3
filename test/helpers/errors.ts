/** The value `run` throws; fails the test if it returns normally. */
export function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw, but it returned normally');
}
