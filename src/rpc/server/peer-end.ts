/**
 * After the client's FIN: how long the server keeps the connection for the replies it owes,
 * and how it tells a client that half-closed (still reading) from one that is gone.
 *
 * A FIN looks the same either way. So while calls are in flight the server probes: it sends
 * a frame every conforming client ignores (a Pong with id 0, PROTOCOL.md §7.10) at growing
 * intervals. A client that is gone answers with a reset, the next write fails, the connection
 * closes and its handlers' signals abort, whether or not those handlers write anything.
 *
 *   FIN ──calls in flight──> probe, +5 ms, +10 ms ... every 1 s ──all calls done──────> close
 *                                    └──write fails (peer gone): closed, calls aborted
 *                                    └──drainTimeoutMs──> close (calls aborted)
 */
export function keepForOwedReplies(idle: Promise<void>, drainTimeoutMs: number, probe: () => void): Promise<void> {
  let delay = FIRST_PROBE_MS;
  let probeTimer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    probeTimer = setTimeout(() => {
      probe();
      delay = Math.min(delay * 2, MAX_PROBE_MS);
      schedule();
    }, delay);
    probeTimer.unref();
  };
  probe();
  schedule();
  let drainTimer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => (drainTimer = setTimeout(resolve, drainTimeoutMs)));
  return Promise.race([idle, timedOut]).finally(() => {
    clearTimeout(drainTimer);
    clearTimeout(probeTimer);
  });
}

const FIRST_PROBE_MS = 5;
const MAX_PROBE_MS = 1000;
