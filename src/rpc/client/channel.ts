import { ClientClosedError } from '../errors.js';
import type { Backoff } from './backoff.js';
import type { ClientSession } from './session.js';

/**
 * The connection life of a client, one named state at a time (the client's public status):
 *
 *              ready()                    attempt ok
 *     idle ─────────────────> connecting ─────────────> connected
 *      ^                      │   ^   ^                  │   │
 *      │ attempt failed,      │   │   │ GoAway, or ready() finds the
 *      │ never connected      │   │   │ current connection closing
 *      └──────────────────────┘   │   └──────────────────┘   │
 *                                 │                          │ current connection
 *           backoff timer         │                          │ closed
 *           or ready()            │                          v
 *                                 └────────────────── disconnected
 *                                                            ^
 *                 connecting ── attempt failed after a loss ─┘
 *
 *     idle | connecting | connected | disconnected ── close() / destroy() ──> closed
 *     closed ── ready() ──> connecting   (not terminal, as Transport.TCP's client: a call after
 *                                         close() opens a new connection; what close() was
 *                                         draining goes on draining)
 *
 * What each state owns, dropped when it is left (see `transition`):
 *   connecting    `attempt`: the one connection attempt every caller of `ready()` shares;
 *                 `afterLoss`: where a failure goes (disconnected after a loss, else idle).
 *   connected     `current`: the session new calls go to.
 *   disconnected  `retryTimer`: the background reconnect, after a backoff delay (none when
 *                 reconnecting is off: the next `ready()` connects).
 * In every state, `draining` holds the sessions that take no new calls but may still carry
 * calls in flight: told to go away (GoAway), left behind while closing, or kept by `close()`.
 */
export type ChannelState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

/** Where the channel reports; the client turns these into its 'status' and 'error' events. */
export interface ChannelListener {
  onStatus(state: ChannelState): void;
  /** A connection attempt or an established connection failed (the calls it affects learn of it too). */
  onError(err: Error): void;
}

/** One connection attempt: resolves with the new connection's session. */
export type SessionConnector = (onGoAway: (session: ClientSession) => void) => Promise<ClientSession>;

const NOT_CLOSED: readonly ChannelState[] = ['idle', 'connecting', 'connected', 'disconnected'];
const CAN_CONNECT: readonly ChannelState[] = ['idle', 'connected', 'disconnected', 'closed'];
const CONNECTING: readonly ChannelState[] = ['connecting'];
const CONNECTED: readonly ChannelState[] = ['connected'];

/**
 * Owns a client's connections: connects lazily and once for all waiting callers, replaces a
 * connection the server retires (GoAway) while the old one finishes its calls, reconnects in
 * the background with backoff after a drop, and closes gracefully (bounded) or at once.
 *
 * Callers use only `pick()` (a ready session, synchronously) and `ready()` (one, once there
 * is one). Several endpoints, each behind its own subchannel, would change what is behind
 * those two, not the call path in front of them.
 */
export class Channel {
  private _state: ChannelState = 'idle';
  private current: ClientSession | undefined = undefined;
  private attempt: Promise<ClientSession> | undefined = undefined;
  private afterLoss = false;
  private retryTimer: NodeJS.Timeout | undefined = undefined;
  private readonly draining = new Set<ClientSession>();
  /**
   * Counts the attempts started: an attempt whose number is not the latest was given up by
   * close() or destroy() (and another may have started since), so its outcome moves nothing.
   */
  private dials = 0;
  private readonly onGoAway = (session: ClientSession): void => this.goAway(session);
  private readonly retry = (): void => void this.ready().catch(noop);

  constructor(
    private readonly connector: SessionConnector,
    /** Delays between background reconnects; undefined: no background reconnect. */
    private readonly backoff: Backoff | undefined,
    private readonly listener: ChannelListener,
  ) {}

  get state(): ChannelState {
    return this._state;
  }

  /** The session new calls go to while connected. */
  get session(): ClientSession | undefined {
    return this.current;
  }

  /** A session that takes calls now, or undefined. The fast path: no promise, no allocation. */
  pick(): ClientSession | undefined {
    const session = this.current;
    return session !== undefined && session.usable ? session : undefined;
  }

  /** A session that takes calls: the current one, or the one the shared attempt connects. */
  ready(): Promise<ClientSession> {
    const session = this.pick();
    if (session !== undefined) return Promise.resolve(session);
    if (this._state === 'connected') {
      // The current session takes no new calls (told to go away, or its connection is closing).
      this.retire(this.current);
    }
    if (this._state !== 'connecting') this.transition(CAN_CONNECT, 'connecting');
    // Undefined only if a status listener closed the channel meanwhile.
    return this.attempt ?? Promise.reject(new ClientClosedError());
  }

  /**
   * Takes no new calls, waits up to `timeoutMs` for calls in flight to settle, then closes the
   * connections (calls still running fail with ERR_CONNECTION_CLOSED). Idempotent.
   */
  async close(timeoutMs: number): Promise<void> {
    const current = this.current;
    if (!this.transition(NOT_CLOSED, 'closed')) return;
    if (current !== undefined) this.draining.add(current);
    await Promise.all([...this.draining].map((session) => closeWhenIdle(session, timeoutMs)));
  }

  /** Closes every connection at once, a graceful `close()` under way included; calls in flight fail with ERR_CONNECTION_CLOSED. */
  destroy(reason: Error | undefined): void {
    const current = this.current;
    this.transition(NOT_CLOSED, 'closed');
    if (current !== undefined) this.draining.add(current);
    for (const session of [...this.draining]) session.conn.destroy(reason);
  }

  /**
   * The one place the state changes (grpc-js `transitionToState`): moves to `to` if the state
   * is one of `from`, leaving the old state (dropping what it owned) and entering the new one
   * (starting what it owns), then reports the status. `session` is the current session when
   * entering 'connected'. Returns false, changing nothing, from any other state.
   */
  private transition(from: readonly ChannelState[], to: ChannelState, session?: ClientSession): boolean {
    const left = this._state;
    if (!from.includes(left)) return false;
    this._state = to;
    switch (left) {
      case 'connecting':
        this.attempt = undefined;
        break;
      case 'connected':
        this.current = undefined;
        break;
      case 'disconnected':
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        break;
      case 'idle':
      case 'closed':
        break;
    }
    switch (to) {
      case 'connecting':
        this.afterLoss = left !== 'idle' && left !== 'closed';
        this.attempt = this.dial();
        break;
      case 'connected':
        this.current = session;
        // The backoff starts over only once the connection proved itself, not merely opened:
        // a server that accepts and drops (no backend, a refused client certificate) is retried
        // at the backoff's pace up to its maximum.
        if (session !== undefined) void session.proven.then(() => this.backoff?.reset());
        break;
      case 'disconnected':
        this.retryTimer = this.scheduleRetry();
        break;
      case 'idle':
      case 'closed':
        break;
    }
    this.listener.onStatus(to);
    return true;
  }

  /** Starts the attempt the 'connecting' state owns. Its outcome moves the state on. */
  private dial(): Promise<ClientSession> {
    const dial = ++this.dials;
    const attempt = this.connector(this.onGoAway).then(
      (session) => this.connected(session, dial),
      (err: unknown) => this.attemptFailed(err as Error, dial),
    );
    // A background attempt has no caller to take its failure, which was reported already.
    attempt.catch(noop);
    return attempt;
  }

  private connected(session: ClientSession, dial: number): ClientSession {
    void session.conn.closed.then((reason) => this.sessionClosed(session, reason));
    if (dial !== this.dials || !this.transition(CONNECTING, 'connected', session)) {
      // Closed while connecting.
      session.conn.destroy();
      throw new ClientClosedError();
    }
    return session;
  }

  private attemptFailed(err: Error, dial: number): never {
    // Whichever attempt failed (background, a call's, GoAway's replacement), the next one is scheduled by the transition.
    if (dial === this.dials && this.transition(CONNECTING, this.afterLoss ? 'disconnected' : 'idle')) this.listener.onError(err);
    throw err;
  }

  private sessionClosed(session: ClientSession, reason: Error | undefined): void {
    this.draining.delete(session);
    if (this._state === 'closed') return;
    // A connection the server retired (GoAway) is not a failure; any other that closed with a reason is.
    if (reason !== undefined && !session.toldToGoAway) this.listener.onError(reason);
    if (session === this.current) this.transition(CONNECTED, 'disconnected');
  }

  /** The server retires `session`: its calls finish there, new calls go to a new connection. */
  private goAway(session: ClientSession): void {
    this.retire(session);
    if (this._state !== 'closed') void this.ready().catch(noop);
  }

  /** `session` takes no new calls: it closes once its calls in flight have settled. */
  private retire(session: ClientSession | undefined): void {
    if (session === undefined || session.conn.state === 'closed' || this.draining.has(session)) return;
    this.draining.add(session);
    void session.whenIdle().then(() => session.conn.close());
  }

  private scheduleRetry(): NodeJS.Timeout | undefined {
    if (this.backoff === undefined) return undefined;
    const timer = setTimeout(this.retry, this.backoff.next());
    timer.unref();
    return timer;
  }
}

/** Lets the calls in flight finish, then closes; a server that stops reading cannot hold `close()` past the timeout. */
async function closeWhenIdle(session: ClientSession, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const idle = await settlesWithin(session.whenIdle(), timeoutMs);
  if (!idle) session.conn.destroy();
  const closed = await settlesWithin(session.conn.close(), Math.max(0, deadline - Date.now()) + CLOSE_GRACE_MS);
  if (!closed) session.conn.destroy();
}

/** After the calls: how long a graceful close may wait for the server to take what was queued. */
const CLOSE_GRACE_MS = 1000;

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  const settled = await Promise.race([promise.then(() => true), timedOut]);
  clearTimeout(timer);
  return settled;
}

function noop(): void {}
