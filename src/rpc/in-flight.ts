import { ConnectionClosedError, type ProtosocketError } from '../core/errors.js';
import { PeerUnresponsiveError } from './errors.js';

/**
 * Promises waiting for a session to have no call in flight. The session decides when it is
 * idle: it returns early from `whenIdle` when it already is, and calls `wakeAll` when the
 * last call finishes or the connection closes. Shared by the client and server sessions.
 */
export class IdleWaiters {
  private waiters: (() => void)[] = [];

  /** Resolves at the next `wakeAll`. */
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves every pending `wait`; waits started from inside a wake-up wait for the next one. */
  wakeAll(): void {
    const waiters = this.waiters;
    if (waiters.length === 0) return;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Whether anyone waits, so a session can skip `wakeAll` on its hot path. */
  get waiting(): boolean {
    return this.waiters.length > 0;
  }
}

/**
 * What the calls of a session fail with when its connection closes, `reason` being why it
 * closed: ERR_CONNECTION_CLOSED with the reason as `cause`, except for a peer the heartbeat gave
 * up on, whose calls fail with ERR_PEER_UNRESPONSIVE itself (a code worth matching on: the
 * peer is alive or not, not merely disconnected).
 */
export function connectionLost(reason: Error | undefined): ProtosocketError {
  if (reason instanceof PeerUnresponsiveError) return reason;
  return new ConnectionClosedError(reason === undefined ? 'connection closed' : `connection closed: ${reason.message}`, { cause: reason });
}
