/**
 * Teardown registered while a test runs, run after it whether it passed or failed, last
 * registered first (so a peer socket goes before the listener it connected to).
 *
 *   const cleanup = new Cleanup();
 *   afterEach(() => cleanup.run());
 */
export class Cleanup {
  private tasks: (() => unknown)[] = [];

  add(task: () => unknown): void {
    this.tasks.push(task);
  }

  async run(): Promise<void> {
    const tasks = this.tasks.reverse();
    this.tasks = [];
    const failures: unknown[] = [];
    for (const task of tasks) {
      try {
        await task();
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, 'cleanup failed');
  }
}
