/**
 * The one timer of a session, for every duty it has at a time (the heartbeat; on the server
 * also connection age, its grace and idleness). The owner keeps the due times and, whenever
 * the clock fires or a duty is added, asks to be woken by the earliest: the clock keeps one
 * unref'd timeout armed for it, so a session costs at most one timer however many duties it
 * has, and nothing per frame or per call. (An unref'd timer never keeps the process alive.)
 */
export class SessionClock {
  private timer: NodeJS.Timeout | undefined = undefined;
  /** When the armed timer fires, in `performance.now()` ms; Infinity when none is. */
  private armedFor = Infinity;
  private stopped = false;

  /** `onDue(now)` runs when the timer fires; it calls `wakeBy` again for whatever is still due. */
  constructor(private readonly onDue: (now: number) => void) {}

  /** Makes sure the clock fires no later than `at` (`performance.now()` ms). Infinity: nothing to wake for. */
  wakeBy(at: number): void {
    if (this.stopped || at >= this.armedFor) return;
    clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = setTimeout(this.fire, Math.max(0, at - performance.now()));
    this.timer.unref();
  }

  /** For good: the session is over. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private readonly fire = (): void => {
    const due = this.armedFor;
    this.timer = undefined;
    this.armedFor = Infinity;
    // Timers run on the loop's millisecond clock and may fire a fraction of a millisecond
    // before `due` as performance.now() sees it: the duty due then is due.
    this.onDue(Math.max(performance.now(), due));
  };
}
