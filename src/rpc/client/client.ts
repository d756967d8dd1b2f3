import { EventEmitter } from 'node:events';
import type { Codec } from '../../core/codec.js';
import { connect } from '../../core/connect.js';
import { Backoff } from './backoff.js';
import type { CallObserver, CallOptions } from './call.js';
import { CallStream } from './call-stream.js';
import { type CallHandle, ClientSession } from './session.js';
import { ClientClosedError } from '../errors.js';
import type { Metadata, RpcFrame } from '../wire/frame.js';
import { jsonCodec } from '../wire/json-codec.js';
import type { RpcClientOptions } from './options.js';

export type { RpcClientOptions, RpcClientSettings } from './options.js';

/**
 *   idle ──connect──> connecting ──ok──> connected ──drop──> disconnected ──backoff──> connecting
 *                          └──fail──> idle (the calls waiting fail)       close() from any ──> closed
 */
export type RpcClientStatus = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface RpcClientEvents {
  status: [status: RpcClientStatus];
  /** A connection attempt or an established connection failed. Calls learn of it through their own errors. */
  error: [error: Error];
}

/**
 * A multiplexing RPC client over one connection at a time.
 *
 * Connecting is lazy (the first call connects) and shared (concurrent calls wait on one
 * attempt). A call made while disconnected starts an attempt at once and fails only if it
 * fails. After an established connection drops, every call in flight fails with
 * ERR_CONNECTION_CLOSED and the client reconnects in the background with backoff, so it is
 * ready when the server is back. On GoAway (server draining), new calls go to a new
 * connection while the old one finishes its calls.
 */
export class RpcClient extends EventEmitter<RpcClientEvents> {
  private session: ClientSession | undefined;
  private connecting: Promise<ClientSession> | undefined;
  private readonly retiring = new Set<ClientSession>();
  private readonly backoff: Backoff | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /**
   * An established connection was lost (dropped, or retired by GoAway) and none has replaced
   * it yet: a failed attempt then schedules the next one, so the client keeps trying in the
   * background until it connects or is closed. False before the first connection.
   */
  private lostConnection = false;
  private _status: RpcClientStatus = 'idle';
  private readonly codec: Codec<RpcFrame, RpcFrame>;

  constructor(private readonly options: RpcClientOptions = {}) {
    super();
    this.codec = options.codec ?? jsonCodec;
    this.backoff = options.reconnect === false ? undefined : new Backoff(options.reconnect);
  }

  get status(): RpcClientStatus {
    return this._status;
  }

  /** The current connection's session, if connected. */
  get currentSession(): ClientSession | undefined {
    return this.session;
  }

  /** Connects if not connected. Idempotent; concurrent callers share one attempt. */
  async connect(): Promise<void> {
    await this.ready();
  }

  /** Calls `pattern` and resolves with its final value (the last item for a stream, undefined if none). */
  call<T = unknown>(pattern: string, data: unknown, options?: CallOptions): Promise<T> {
    const result = new CallResult<T>();
    const session = this.session;
    if (session !== undefined && session.usable) session.start(pattern, data, result, options);
    else this.route((ready) => ready.start(pattern, data, result, options), result);
    return result.promise;
  }

  /**
   * Calls `pattern` and iterates over its results. Breaking out of the loop cancels the call.
   * A consumer that falls behind stops the connection's reads, which stops the server's producer.
   */
  stream<T = unknown>(pattern: string, data: unknown, options?: CallOptions): AsyncIterableIterator<T> {
    const stream = new CallStream<T>(this.options.streamHighWaterMark ?? 1024);
    const observer = stream.observer as CallObserver;
    const handle = this.route((session) => {
      stream.throttle = session;
      return session.start(pattern, data, observer, options);
    }, observer);
    stream.cancel = () => handle.cancel();
    return stream;
  }

  /**
   * The observer form under `call` and `stream`: results go to `observer`; the returned
   * handle cancels the call (sends Cancel) unless it already settled, and doubles as an rxjs
   * teardown.
   */
  open<T = unknown>(pattern: string, data: unknown, observer: CallObserver<T>, options?: CallOptions): CallHandle {
    const sink = observer as CallObserver;
    const session = this.session;
    if (session !== undefined && session.usable) return session.start(pattern, data, sink, options);
    return this.route((ready) => ready.start(pattern, data, sink, options), sink);
  }

  /** Sends an event (no reply). Resolves once queued, or after the connection drains when it was full. */
  sendEvent(pattern: string, data: unknown, meta?: Metadata): Promise<void> {
    const session = this.session;
    if (session !== undefined && session.usable) return session.sendEvent(pattern, data, meta);
    return this.ready().then((ready) => ready.sendEvent(pattern, data, meta));
  }

  /** Round trip time to the server in ms. */
  async ping(): Promise<number> {
    return (await this.ready()).ping();
  }

  /**
   * Takes no new calls, waits up to `timeoutMs` (the `closeTimeoutMs` option, unless given here)
   * for calls in flight to settle, then closes the connection (calls still running fail with
   * ERR_CONNECTION_CLOSED). Idempotent.
   */
  async close(timeoutMs = this.options.closeTimeoutMs ?? 5000): Promise<void> {
    if (this._status === 'closed') return;
    this.setStatus('closed');
    clearTimeout(this.reconnectTimer);
    const sessions = [...this.retiring];
    if (this.session !== undefined) sessions.push(this.session);
    this.session = undefined;
    await Promise.all(sessions.map((session) => closeWhenIdle(session, timeoutMs)));
  }

  /** Closes at once; every call in flight fails with ERR_CONNECTION_CLOSED. */
  destroy(reason?: Error): void {
    this.setStatus('closed');
    clearTimeout(this.reconnectTimer);
    this.session?.conn.destroy(reason);
    for (const session of this.retiring) session.conn.destroy(reason);
    this.session = undefined;
  }

  /** Starts a call on a usable session, connecting first if needed; a connect failure fails the call. */
  private route(start: (session: ClientSession) => CallHandle, observer: CallObserver): CallHandle {
    const session = this.session;
    if (session !== undefined && session.usable) return start(session);
    if (this._status === 'closed') {
      observer.error(new ClientClosedError());
      return { cancel: noop, unsubscribe: noop };
    }
    let started: CallHandle | undefined;
    let cancelled = false;
    this.ready().then(
      (ready) => {
        if (!cancelled) started = start(ready);
      },
      (err: Error) => {
        if (!cancelled) observer.error(err);
      },
    );
    const cancel = (): void => {
      if (started !== undefined) started.cancel();
      else cancelled = true;
    };
    return { cancel, unsubscribe: cancel };
  }

  private ready(): Promise<ClientSession> {
    const session = this.session;
    if (session !== undefined && session.usable) return Promise.resolve(session);
    if (this._status === 'closed') return Promise.reject(new ClientClosedError());
    this.connecting ??= this.openSession().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async openSession(): Promise<ClientSession> {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.setStatus('connecting');
    const session = new ClientSession(this.options.timeoutMs ?? 0, (s) => this.retire(s));
    try {
      const connection = await connect({
        ...this.options,
        ...this.codec,
        reactor: (conn) => session.attach(conn),
      });
      if (this._status === 'closed') {
        connection.destroy();
        throw new ClientClosedError();
      }
      void connection.closed.then((reason) => this.onSessionClosed(session, reason));
      this.session = session;
      this.lostConnection = false;
      this.backoff?.reset();
      this.setStatus('connected');
      return session;
    } catch (err) {
      if (this._status !== 'closed') {
        // Whichever attempt failed (background, a call's, GoAway's replacement), the next one is scheduled here.
        if (this.lostConnection) {
          this.setStatus('disconnected');
          this.scheduleReconnect();
        } else {
          this.setStatus('idle');
        }
        this.emitError(err as Error);
      }
      throw err;
    }
  }

  private retire(session: ClientSession): void {
    if (this.session === session) {
      this.session = undefined;
      this.lostConnection = true;
    }
    this.retiring.add(session);
    void session.whenIdle().then(() => session.conn.close());
    if (this._status !== 'closed') void this.ready().catch(noop);
  }

  private onSessionClosed(session: ClientSession, reason: Error | undefined): void {
    this.retiring.delete(session);
    if (this.session !== session) return;
    this.session = undefined;
    this.lostConnection = true;
    if (this._status === 'closed') return;
    if (reason !== undefined) this.emitError(reason);
    this.setStatus('disconnected');
    this.scheduleReconnect();
  }

  /** One background attempt after a backoff delay; a failure schedules the next (in `openSession`). */
  private scheduleReconnect(): void {
    if (this.backoff === undefined || this._status === 'closed') return;
    clearTimeout(this.reconnectTimer);
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.ready().catch(noop);
    }, delay);
    this.reconnectTimer.unref();
  }

  private setStatus(status: RpcClientStatus): void {
    if (this._status === status) return;
    this._status = status;
    this.emit('status', status);
  }

  private emitError(err: Error): void {
    // 'error' without a listener would throw; errors here are also reported to the calls they affect.
    if (this.listenerCount('error') > 0) this.emit('error', err);
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

/** The observer behind `call`: settles a promise with the last value. One object per call, no closures. */
class CallResult<T> implements CallObserver {
  readonly promise: Promise<T>;
  private resolve!: (value: T) => void;
  private reject!: (err: Error) => void;
  private last: unknown = undefined;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  next(value: unknown): void {
    this.last = value;
  }

  error(err: Error): void {
    this.reject(err);
  }

  complete(): void {
    this.resolve(this.last as T);
  }
}
