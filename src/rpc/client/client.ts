import { EventEmitter } from 'node:events';
import type { Codec } from '../../core/codec.js';
import { Backoff } from './backoff.js';
import type { CallHandle, CallObserver, CallOptions } from './call.js';
import { CallResult } from './call-result.js';
import { CallStream } from './call-stream.js';
import { Channel, type ChannelState } from './channel.js';
import { connectSession } from './connect-session.js';
import type { ClientSession } from './session.js';
import { DeferredCall, type PacedConsumer, startCall } from './start-call.js';
import { ControlCode } from '../wire/control-code.js';
import { keepaliveSettings } from '../keepalive.js';
import type { Metadata, RpcFrame } from '../wire/frame.js';
import { jsonCodec } from '../wire/json-codec.js';
import { codecFor, profileOf } from '../wire/profile.js';
import type { RpcClientOptions } from './options.js';

export type { RpcClientOptions, RpcClientSettings } from './options.js';

/** The client's connection state; the transitions are drawn in channel.ts. */
export type RpcClientStatus = ChannelState;

export interface RpcClientEvents {
  status: [status: RpcClientStatus];
  /**
   * A connection attempt or an established connection failed (calls learn of it through their
   * own errors), or a call's observer threw after the call had settled (ERR_OBSERVER).
   */
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
 * connection while the old one finishes its calls. A server that stops answering (not even a
 * heartbeat Ping) has its connection closed with ERR_PEER_UNRESPONSIVE, and the client reconnects.
 *
 * The connection life is the `Channel`'s; this class is the call API over it. Every call
 * takes one route: the channel's ready session, synchronously, or a `DeferredCall` that
 * starts once the channel has one.
 */
export class RpcClient extends EventEmitter<RpcClientEvents> {
  private readonly channel: Channel;
  private readonly streamHighWaterMark: number;
  private readonly closeTimeoutMs: number;

  constructor(options: RpcClientOptions = {}) {
    super();
    const profile = profileOf(options.protocol);
    const codec: Codec<RpcFrame, RpcFrame> = codecFor(options.codec ?? jsonCodec, profile);
    const defaultTimeoutMs = options.timeoutMs ?? 0;
    this.streamHighWaterMark = options.streamHighWaterMark ?? 1024;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    const keepalive = keepaliveSettings(options.keepaliveIntervalMs ?? 30_000, options.keepaliveTimeoutMs);
    this.channel = new Channel(
      (onGoAway) =>
        connectSession({ ...options, ...codec }, defaultTimeoutMs, onGoAway, profile, profile.sends(ControlCode.Ping) ? keepalive : undefined, (err) =>
          this.reportObserverError(err),
        ),
      options.reconnect === false ? undefined : new Backoff(options.reconnect),
      {
        onStatus: (status) => this.emit('status', status),
        // 'error' without a listener would throw; errors here are also reported to the calls they affect.
        onError: (err) => {
          if (this.listenerCount('error') > 0) this.emit('error', err);
        },
      },
    );
  }

  get status(): RpcClientStatus {
    return this.channel.state;
  }

  /**
   * The current connection's session, if connected: for this package's tests, which drive the
   * connection under a client. Not part of the published types (the build strips it).
   * @internal
   */
  get currentSession(): ClientSession | undefined {
    return this.channel.session;
  }

  /** Connects if not connected (again after close()). Idempotent; concurrent callers share one attempt. */
  async connect(): Promise<void> {
    await this.channel.ready();
  }

  /**
   * Calls `pattern` and resolves with its final value (the last item for a stream, undefined if
   * none). Under the protosocket-rpc profile the call is unary: the first Normal settles it.
   */
  call<T = unknown>(pattern: string, data: unknown, options?: CallOptions): Promise<T> {
    const result = new CallResult<T>();
    this.route(pattern, data, result, options, undefined);
    return result.promise;
  }

  /**
   * Calls `pattern` and iterates over its results. Breaking out of the loop cancels the call.
   * A consumer that falls behind stops the connection's reads, which stops the server's producer.
   */
  stream<T = unknown>(pattern: string, data: unknown, options?: CallOptions): AsyncIterableIterator<T> {
    const stream = new CallStream<T>(this.streamHighWaterMark);
    const handle = this.route(pattern, data, stream.observer as CallObserver, { ...options, stream: true }, stream);
    stream.cancel = () => handle.cancel();
    return stream;
  }

  /**
   * The observer form under `call` and `stream`: results go to `observer`; the returned
   * handle cancels the call (sends Cancel) unless it already settled, and doubles as an rxjs
   * teardown.
   */
  open<T = unknown>(pattern: string, data: unknown, observer: CallObserver<T>, options?: CallOptions): CallHandle {
    return this.route(pattern, data, observer as CallObserver, options, undefined);
  }

  /**
   * Sends an event (no reply). Resolves once queued, or after the connection drains when it was
   * full. Rejects with ERR_UNSUPPORTED_BY_PROFILE under the protosocket-rpc profile.
   */
  sendEvent(pattern: string, data: unknown, meta?: Metadata): Promise<void> {
    const session = this.channel.pick();
    if (session !== undefined) return session.sendEvent(pattern, data, meta);
    return this.channel.ready().then((ready) => ready.sendEvent(pattern, data, meta));
  }

  /** Round trip time to the server in ms. Rejects with ERR_UNSUPPORTED_BY_PROFILE under the protosocket-rpc profile. */
  async ping(): Promise<number> {
    return (await this.channel.ready()).ping();
  }

  /**
   * Retires the current connection: no new calls go to it; waits up to `timeoutMs` (the
   * `closeTimeoutMs` option, unless given here) for its calls in flight to settle, then closes
   * it (calls still running fail with ERR_CONNECTION_CLOSED). A connect attempt in progress is
   * given up (its calls fail with ERR_CLIENT_CLOSED). Not permanent, as Transport.TCP's client:
   * a later call or `connect()` opens a new connection. Idempotent.
   */
  close(timeoutMs = this.closeTimeoutMs): Promise<void> {
    return this.channel.close(timeoutMs);
  }

  /** Closes at once; every call in flight fails with ERR_CONNECTION_CLOSED. A later call opens a new connection. */
  destroy(reason?: Error): void {
    this.channel.destroy(reason);
  }

  /** Nobody's call is left to carry it: the 'error' event, or a process warning when nobody listens. */
  private reportObserverError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else process.emitWarning(err);
  }

  /**
   * The one route of every call: on the ready session at once (no promise, nothing allocated
   * but the call), else once the channel connects; a connect failure fails the call.
   */
  private route(pattern: string, data: unknown, observer: CallObserver, options: CallOptions | undefined, paced: PacedConsumer | undefined): CallHandle {
    const session = this.channel.pick();
    if (session !== undefined) return startCall(session, pattern, data, observer, options, paced);
    return new DeferredCall(this.channel.ready(), pattern, data, observer, options, paced);
  }
}
