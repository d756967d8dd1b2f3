import { durationOption } from './duration-option.js';

/** How a side pings a silent peer. */
export interface KeepaliveSettings {
  /** Silence (no frame received) after which a Ping goes out. */
  intervalMs: number;
  /** How long after that Ping the peer may stay silent before the connection is given up. */
  timeoutMs: number;
}

/** What the heartbeat asks its session to do when it is due. */
export type KeepaliveAction = 'wait' | 'ping' | 'unresponsive';

/**
 * The heartbeat of one connection, as decisions only: no timer, no I/O. The session's clock
 * (session-clock.ts) calls `check` at `due`; the session does what it answers.
 *
 *   listening ── due, nothing heard since the last look ──> Ping sent: awaiting
 *      ^   │                                                   │        │
 *      │   └ due, something heard: look again in an interval   │        │ due (timeout), still
 *      └───────── something heard (a Pong or any frame) ───────┘        │ nothing heard
 *                 or reading paused by us                               v
 *                                                                  unresponsive
 *
 * Silence is measured lazily, without a clock read per frame: the connection counts the frames
 * it delivers (`Connection.framesReceived`), and the heartbeat compares the count when it looks. So a Ping goes out after
 * one to two intervals of silence, and a peer silent from the start is given up after
 * `intervalMs + timeoutMs`. Any frame is a sign of life, not only the Pong, so a busy
 * connection never pings, and a connection draining after GoAway is judged like any other:
 * both peers answer Pings until the connection closes, so its calls finish however long
 * they run while the peer is alive. While we have paused reading (flow control), frames the
 * peer sent wait unread in the socket: that silence is ours, never counted against the peer.
 */
export class Keepalive {
  private awaitingPong = false;
  private framesAtLook: number;
  private dueAt: number;

  constructor(
    private readonly settings: KeepaliveSettings,
    now: number,
    framesReceived: number,
  ) {
    this.framesAtLook = framesReceived;
    this.dueAt = now + settings.intervalMs;
  }

  /** When `check` should next run (`performance.now()` ms). */
  get due(): number {
    return this.dueAt;
  }

  /** Called once `due` has come: `framesReceived` is the connection's count of frames received so far. */
  check(now: number, framesReceived: number, readingPaused: boolean): KeepaliveAction {
    const heard = framesReceived !== this.framesAtLook;
    this.framesAtLook = framesReceived;
    if (heard || readingPaused) {
      this.awaitingPong = false;
      this.dueAt = now + this.settings.intervalMs;
      return 'wait';
    }
    if (!this.awaitingPong) {
      this.awaitingPong = true;
      this.dueAt = now + this.settings.timeoutMs;
      return 'ping';
    }
    this.dueAt = Infinity;
    return 'unresponsive';
  }

  /** How long the peer has been silent, at least, when `check` answered 'unresponsive'. */
  get silentMs(): number {
    return this.settings.intervalMs + this.settings.timeoutMs;
  }
}

/** The id of heartbeat Pings: 0, which an RTT `ping()` never uses, so their Pongs never mix. */
export const KEEPALIVE_PING_ID = 0;

/** Settings from the `keepaliveIntervalMs` / `keepaliveTimeoutMs` options; undefined when the interval is 0 (off). Throws ERR_INVALID_OPTION for a bad value. */
export function keepaliveSettings(intervalMs: number, timeoutMs: number | undefined): KeepaliveSettings | undefined {
  const interval = durationOption('keepaliveIntervalMs', intervalMs);
  const timeout = durationOption('keepaliveTimeoutMs', timeoutMs) ?? DEFAULT_KEEPALIVE_TIMEOUT_MS;
  return interval === undefined ? undefined : { intervalMs: interval, timeoutMs: timeout };
}

export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 10_000;
