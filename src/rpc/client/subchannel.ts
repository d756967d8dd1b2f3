import type { Backoff } from './backoff.js';
import type { PendingCall } from './pending-call.js';
import type { ClientSession, SessionEvents } from './session.js';

/**
 * The connection life of one endpoint (one of the client's connections to it), one named
 * state at a time (grpc's connectivity states):
 *
 *              connect()                  attempt ok
 *     idle ─────────────────> connecting ─────────────> ready
 *      ^                      │   ^   ^                  │   │
 *      │ attempt failed,      │   │   │ GoAway, or connect() finds
 *      │ never ready, nobody  │   │   │ the current connection closing
 *      │ waits for it         │   │   └──────────────────┘   │
 *      └──────────────────────┘   │                          │ current connection
 *                                 │ backoff timer            │ closed
 *                                 │ or connect()             v
 *                                 └─────────────── transient_failure
 *                                                            ^
 *      connecting ── attempt failed after a loss, or the ────┘
 *                    channel wants it kept connecting
 *
 *     every state but shutdown ── close() / destroy() / drain() ──> shutdown (terminal)
 *
 * What each state owns, dropped when it is left (see `transition`):
 *   connecting         `afterLoss`: where a failure goes; the attempt itself, whose outcome
 *                      moves the state on (an outcome that finds it shut down is destroyed).
 *   ready              `current`: the session new calls go to.
 *   transient_failure  `retryTimer`: the background reconnect after a backoff delay (none
 *                      when reconnecting is off: the next `connect()` connects).
 * In every state, `draining` holds the sessions that take no new calls but may still carry
 * calls in flight: told to go away (GoAway), left behind while closing, or kept by a shutdown.
 */
export type SubchannelState = 'idle' | 'connecting' | 'ready' | 'transient_failure' | 'shutdown';

/** Where a subchannel reports: the channel, which balances over its subchannels. */
export interface SubchannelListener {
  /** The state changed; `subchannel.state` is the new one. */
  onStateChange(subchannel: Subchannel): void;
  /** A connection attempt or an established connection failed (the calls it affects learn of it too). */
  onError(err: Error): void;
  /** Asked when an attempt fails on a subchannel never ready yet: keep retrying it in the background (else it goes idle until asked). */
  keepConnecting(): boolean;
  /** A call on one of this subchannel's sessions never reached a handler: send it elsewhere (see `SessionEvents.reroute`). */
  reroute(call: PendingCall, reason: Error): boolean;
}

/** One connection attempt to the subchannel's endpoint: resolves with the new connection's session. */
export type SessionConnector = (events: SessionEvents) => Promise<ClientSession>;

const LIVE: readonly SubchannelState[] = ['idle', 'connecting', 'ready', 'transient_failure'];
const CAN_CONNECT: readonly SubchannelState[] = ['idle', 'ready', 'transient_failure'];
const CONNECTING: readonly SubchannelState[] = ['connecting'];
const READY: readonly SubchannelState[] = ['ready'];

/**
 * Owns the connections to one endpoint: connects when asked and once for all, replaces a
 * connection the server retires (GoAway) while the old one finishes its calls, reconnects in
 * the background with backoff (its own, so endpoints do not retry in lockstep) after a drop,
 * and shuts down gracefully (bounded, or unbounded for an endpoint the resolver dropped) or
 * at once.
 */
export class Subchannel {
  private _state: SubchannelState = 'idle';
  private current: ClientSession | undefined = undefined;
  private afterLoss = false;
  private retryTimer: NodeJS.Timeout | undefined = undefined;
  private readonly draining = new Set<ClientSession>();
  private _lastError: Error | undefined = undefined;
  private readonly events: SessionEvents = {
    onGoAway: (session) => this.goAway(session),
    reroute: (call, reason) => this.listener.reroute(call, reason),
  };
  private readonly retry = (): void => this.connect();

  constructor(
    /** Unique among the channel's subchannels: the endpoint's key and the connection's index. */
    readonly key: string,
    /** The endpoint's key (`host:port`, or the path), shared by its connections: what affinity hashes. */
    readonly endpointKey: string,
    private readonly connector: SessionConnector,
    /** Delays between background reconnects; undefined: no background reconnect. */
    private readonly backoff: Backoff | undefined,
    private readonly listener: SubchannelListener,
  ) {}

  get state(): SubchannelState {
    return this._state;
  }

  /** The session new calls go to while ready. */
  get session(): ClientSession | undefined {
    return this.current;
  }

  /** Calls in flight on the current session: what the least-loaded balancer compares. */
  get load(): number {
    return this.current === undefined ? 0 : this.current.inFlight;
  }

  /** Why the last attempt or connection failed; cleared once ready. */
  get lastError(): Error | undefined {
    return this._lastError;
  }

  /** A session that takes calls now, or undefined. No promise, no allocation. */
  pick(): ClientSession | undefined {
    const session = this.current;
    return session !== undefined && session.usable ? session : undefined;
  }

  /**
   * Connects unless connected or connecting: at once, whatever backoff delay is pending. A
   * current session found closing (or told to go away) is retired and replaced.
   */
  connect(): void {
    if (this._state === 'ready') {
      if (this.pick() !== undefined) return;
      // The current session takes no new calls (told to go away, or its connection is closing).
      this.retire(this.current);
    }
    this.transition(CAN_CONNECT, 'connecting');
  }

  /**
   * Takes no new calls, waits up to `timeoutMs` for calls in flight to settle, then closes the
   * connections (calls still running fail with ERR_CONNECTION_CLOSED).
   */
  async close(timeoutMs: number): Promise<void> {
    this.shutdown();
    await Promise.all([...this.draining].map((session) => closeWhenIdle(session, timeoutMs)));
  }

  /** Closes every connection at once, a graceful `close()` under way included; calls in flight fail with ERR_CONNECTION_CLOSED. */
  destroy(reason: Error | undefined): void {
    this.shutdown();
    for (const session of [...this.draining]) session.conn.destroy(reason);
  }

  /**
   * The endpoint left the resolver's answer: takes no new calls, lets every call in flight
   * finish however long it runs, closing each connection once idle. Resolves when all closed.
   */
  async drain(): Promise<void> {
    const current = this.current;
    this.transition(LIVE, 'shutdown');
    // The others in `draining` were retired when they joined it.
    this.retire(current);
    await this.whenClosed();
  }

  /** Once shut down: resolves when every connection it had is closed (an attempt landing later is destroyed on arrival). */
  async whenClosed(): Promise<void> {
    await Promise.all([...this.draining].map((session) => session.conn.closed));
  }

  /** Enters shutdown (if not there yet); the current session joins the draining ones. */
  private shutdown(): void {
    const current = this.current;
    this.transition(LIVE, 'shutdown');
    if (current !== undefined) this.draining.add(current);
  }

  /**
   * The one place the state changes (grpc-js `transitionToState`): moves to `to` if the state
   * is one of `from`, leaving the old state (dropping what it owned) and entering the new one
   * (starting what it owns), then reports it. `session` is the current session when entering
   * 'ready'. Returns false, changing nothing, from any other state.
   */
  private transition(from: readonly SubchannelState[], to: SubchannelState, session?: ClientSession): boolean {
    const left = this._state;
    if (!from.includes(left)) return false;
    this._state = to;
    switch (left) {
      case 'ready':
        this.current = undefined;
        break;
      case 'transient_failure':
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        break;
      case 'idle':
      case 'connecting':
      case 'shutdown':
        break;
    }
    switch (to) {
      case 'connecting':
        this.afterLoss = left !== 'idle';
        this.dial();
        break;
      case 'ready':
        this.current = session;
        this._lastError = undefined;
        // The backoff starts over only once the connection proved itself, not merely opened:
        // a server that accepts and drops (no backend, a refused client certificate) is retried
        // at the backoff's pace up to its maximum.
        if (session !== undefined) void session.proven.then(() => this.backoff?.reset());
        break;
      case 'transient_failure':
        this.retryTimer = this.scheduleRetry();
        break;
      case 'idle':
      case 'shutdown':
        break;
    }
    this.listener.onStateChange(this);
    return true;
  }

  /** Starts the attempt the 'connecting' state owns. Its outcome moves the state on. */
  private dial(): void {
    this.connector(this.events).then(
      (session) => this.connected(session),
      (err: unknown) => this.attemptFailed(err as Error),
    );
  }

  private connected(session: ClientSession): void {
    void session.conn.closed.then((reason) => this.sessionClosed(session, reason));
    // Shut down while connecting: the connection is not wanted.
    if (!this.transition(CONNECTING, 'ready', session)) session.conn.destroy();
  }

  private attemptFailed(err: Error): void {
    if (this._state !== 'connecting') return;
    this._lastError = err;
    const to = this.afterLoss || this.listener.keepConnecting() ? 'transient_failure' : 'idle';
    if (this.transition(CONNECTING, to)) this.listener.onError(err);
  }

  private sessionClosed(session: ClientSession, reason: Error | undefined): void {
    this.draining.delete(session);
    if (this._state === 'shutdown') return;
    // A connection the server retired (GoAway) is not a failure; any other that closed with a reason is.
    if (reason !== undefined && !session.toldToGoAway) {
      this._lastError = reason;
      this.listener.onError(reason);
    }
    if (session === this.current) this.transition(READY, 'transient_failure');
  }

  /** The server retires `session`: its calls finish there, new calls go to a new connection to the same endpoint. */
  private goAway(session: ClientSession): void {
    this.retire(session);
    if (session === this.current) this.transition(READY, 'connecting');
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
