/**
 * Runs a full GC when the process has --expose-gc (the orchestrator starts both children with
 * it), so each measured window starts from a clean heap in both processes.
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
