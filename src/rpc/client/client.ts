import { EventEmitter } from 'node:events';
import type { Codec } from '../../core/codec.js';
import { InvalidOptionError } from '../../core/errors.js';
import { Backoff } from './backoff.js';
import { BALANCERS } from './balancer.js';
import { type CallHandle, type CallObserver, type CallOptions, SETTLED_HANDLE } from './call.js';
import { CallResult } from './call-result.js';
import { CallStream } from './call-stream.js';
import { Channel, type ChannelState } from './channel.js';
import { connectSession, type DialTarget } from './connect-session.js';
import { callRoundTrip, pingRoundTrip, probeEach, type RpcEndpointPing, type RpcPingEachOptions } from './endpoint-probe.js';
import { createCall, type PacedConsumer } from './pending-call.js';
import { EndpointSource } from './resolver.js';
import { invalidRetryPolicy, RetryingCall } from './retry.js';
import type { ClientSession } from './session.js';
import { CancelledError, UnsupportedByProfileError } from '../errors.js';
import { ControlCode } from '../wire/control-code.js';
import { keepaliveSettings } from '../keepalive.js';
import type { Metadata, RpcFrame } from '../wire/frame.js';
import { jsonCodec } from '../wire/json-codec.js';
import { codecFor, profileOf, type WireProfile } from '../wire/profile.js';
import type { RpcClientOptions } from './options.js';

export type { RpcClientEndpoints, RpcClientOptions, RpcClientSettings } from './options.js';
export type { RpcEndpointPing, RpcEndpointState, RpcPingEachOptions } from './endpoint-probe.js';

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
 * A multiplexing RPC client over one server or many.
 *
 * Connecting is lazy (the first call connects) and shared (concurrent calls wait on one
 * attempt per endpoint). With several endpoints (a list, DNS names, a resolver), each has its
 * own connection and backoff, and every call goes to one ready connection picked by the
 * balancer (p2c: the less loaded of two at random). A call made with no ready connection
 * waits for one (see `waitForReady`). After an established connection drops, the calls in
 * flight on it fail with ERR_CONNECTION_CLOSED (or are retried, if they provably never reached
 * a handler, or have a `retry` policy) and the client reconnects in the background with
 * backoff. On GoAway (server draining), new calls go at once to another ready connection or a
 * new one, while the old one finishes its calls. A server that stops answering (not even a
 * heartbeat Ping) has its connection closed with ERR_PEER_UNRESPONSIVE, and the client
 * reconnects or moves to another endpoint.
 *
 * The connections are the `Channel`'s; this class is the call API over it. Every call takes
 * one route: the channel's ready session, synchronously, or the channel's queue until one is.
 */
export class RpcClient extends EventEmitter<RpcClientEvents> {
  private readonly channel: Channel;
  private readonly streamHighWaterMark: number;
  private readonly closeTimeoutMs: number;
  private readonly defaultTimeoutMs: number;
  private readonly profile: WireProfile;

  constructor(options: RpcClientOptions = {}) {
    super();
    // Every option that is not where the servers are or how to spread calls over them is how to dial each one.
    const { endpoints, resolver, host, port, path, balancer, connectionsPerEndpoint, resolveIntervalMs, ...settings } = options;
    const profile = profileOf(options.protocol);
    this.profile = profile;
    const codec: Codec<RpcFrame, RpcFrame> = codecFor(options.codec ?? jsonCodec, profile);
    this.defaultTimeoutMs = options.timeoutMs ?? 0;
    this.streamHighWaterMark = options.streamHighWaterMark ?? 1024;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    const dial = { ...settings, ...codec };
    const reconnect = options.reconnect;
    const keepalive = keepaliveSettings(options.keepaliveIntervalMs ?? 30_000, options.keepaliveTimeoutMs);
    const heartbeat = profile.sends(ControlCode.Ping) ? keepalive : undefined;
    this.channel = new Channel(
      {
        source: endpointSource(options),
        connect: (endpoint, events) =>
          connectSession({ ...dial, ...endpoint.address } as DialTarget, this.defaultTimeoutMs, events, profile, heartbeat, (err) => this.reportObserverError(err)),
        backoff: reconnect === false ? undefined : () => new Backoff(reconnect),
        balancer: checked('balancer', balancer ?? 'p2c', (name) => BALANCERS.includes(name)),
        connectionsPerEndpoint: checked('connectionsPerEndpoint', connectionsPerEndpoint ?? 1, (n) => Number.isInteger(n) && n >= 1),
        resolveIntervalMs: checked('resolveIntervalMs', resolveIntervalMs ?? 30_000, (ms) => Number.isFinite(ms) && ms > 0),
      },
      {
        onStatus: (status) => this.emit('status', status),
        // 'error' without a listener would throw; errors here are also reported to the calls they affect.
        onError: (err) => {
          if (this.listenerCount('error') > 0) this.emit('error', err);
        },
        onObserverError: (err) => this.reportObserverError(err),
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

  /**
   * How many of the client's connections (subchannels) are ready, and how many there are: for
   * this package's tests. Not part of the published types.
   * @internal
   */
  get readySubchannels(): number {
    return this.channel.readyCount;
  }

  /** @internal */
  get subchannelCount(): number {
    return this.channel.subchannelCount;
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
   * One round trip on every connection the client has, one entry per endpoint connection in
   * the endpoints' order, each with its state and round-trip time or why it did not answer
   * (see `RpcEndpointPing`): what a health check reports. Connects first, as a call would
   * (after close() too): every connection neither ready nor connecting gets an attempt now,
   * its backoff delay notwithstanding, and is waited for; one that fails is reported with its
   * error. A dynamic source's first resolution is waited for. Everything within `timeoutMs`
   * (default 1000): what has not answered by then is reported with ERR_DEADLINE_EXCEEDED.
   * The round trip is a Ping, or with `pattern` a call through a handler.
   *
   * Rejects only, at once and connecting nothing, with ERR_UNSUPPORTED_BY_PROFILE when no
   * `pattern` is given under the protosocket-rpc profile (it has no Ping), and with
   * ERR_INVALID_OPTION for a `timeoutMs` that is not a positive number.
   */
  pingEach(options: RpcPingEachOptions = {}): Promise<RpcEndpointPing[]> {
    const { pattern } = options;
    const timeoutMs = options.timeoutMs ?? 1000;
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) return Promise.reject(new InvalidOptionError('timeoutMs', `timeoutMs: ${String(timeoutMs)} is not a positive number`));
    if (pattern === undefined && !this.profile.sends(ControlCode.Ping)) {
      return Promise.reject(new UnsupportedByProfileError(`the ${this.profile.protocol} protocol has no Ping: give a \`pattern\` to call on each endpoint instead`));
    }
    const roundTrip = pattern === undefined ? pingRoundTrip : callRoundTrip(pattern, options.data ?? {}, timeoutMs);
    return probeEach(this.channel, roundTrip, timeoutMs);
  }

  /**
   * Retires the current connections (to every endpoint): no new calls go to them; waits up to
   * `timeoutMs` (the `closeTimeoutMs` option, unless given here) for their calls in flight to
   * settle, then closes them (calls still running fail with ERR_CONNECTION_CLOSED). Connect
   * attempts in progress are given up (calls waiting for them fail with ERR_CLIENT_CLOSED).
   * Not permanent, as Transport.TCP's client: a later call or `connect()` opens new
   * connections (the endpoints resolved anew). Idempotent.
   */
  close(timeoutMs = this.closeTimeoutMs): Promise<void> {
    return this.channel.close(timeoutMs);
  }

  /** Closes every connection at once; every call in flight fails with ERR_CONNECTION_CLOSED. A later call opens new connections. */
  destroy(reason?: Error): void {
    this.channel.destroy(reason);
  }

  /** Nobody's call is left to carry it: the 'error' event, or a process warning when nobody listens. */
  private reportObserverError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else process.emitWarning(err);
  }

  /**
   * The one route of every call: on a ready session at once (no promise, nothing allocated
   * but the call), else in the channel's queue until one is ready. A call with a retry policy
   * takes this route once per attempt.
   */
  private route(pattern: string, data: unknown, observer: CallObserver, options: CallOptions | undefined, paced: PacedConsumer | undefined): CallHandle {
    if (options !== undefined && options.retry !== undefined) return this.withRetries(pattern, data, observer, options, paced);
    const session = this.channel.pick(options);
    if (session !== undefined) return session.start(pattern, data, observer, options, paced);
    return this.queue(pattern, data, observer, options, paced);
  }

  private queue(pattern: string, data: unknown, observer: CallObserver, options: CallOptions | undefined, paced: PacedConsumer | undefined): CallHandle {
    const signal = options?.signal;
    if (signal?.aborted) {
      observer.error(new CancelledError('call aborted before it started', { cause: signal.reason }));
      return SETTLED_HANDLE;
    }
    const call = createCall(pattern, data, observer, options, paced, this.defaultTimeoutMs, this.channel);
    this.channel.wait(call);
    return call;
  }

  private withRetries(pattern: string, data: unknown, observer: CallObserver, options: CallOptions, paced: PacedConsumer | undefined): CallHandle {
    const invalid = invalidRetryPolicy(options.retry as NonNullable<CallOptions['retry']>);
    if (invalid !== undefined) {
      observer.error(invalid);
      return SETTLED_HANDLE;
    }
    return new RetryingCall(
      (attemptObserver, attemptOptions) => {
        const session = this.channel.pick(attemptOptions);
        if (session !== undefined) return session.start(pattern, data, attemptObserver, attemptOptions, paced);
        return this.queue(pattern, data, attemptObserver, attemptOptions, paced);
      },
      observer,
      options,
      this.defaultTimeoutMs,
    );
  }
}

/** Where the options say the servers are; throws ERR_INVALID_OPTION for a mix of forms or a bad entry. */
function endpointSource(options: RpcClientOptions): EndpointSource {
  const { endpoints, resolver } = options;
  const single = options.host !== undefined || options.port !== undefined || options.path !== undefined;
  if ([endpoints !== undefined, resolver !== undefined, single].filter(Boolean).length > 1) {
    throw new InvalidOptionError('endpoints', 'give one of host/port/path, endpoints, or resolver');
  }
  if (resolver !== undefined) {
    if (typeof resolver !== 'function') throw new InvalidOptionError('resolver', 'resolver must be a function returning a promise of endpoints');
    return EndpointSource.from(resolver);
  }
  if (endpoints !== undefined) {
    if (Array.isArray(endpoints)) return EndpointSource.of(endpoints);
    if (typeof endpoints === 'object' && endpoints !== null && 'dns' in endpoints) return EndpointSource.of([endpoints]);
    throw new InvalidOptionError('endpoints', 'endpoints must be a list, or { dns, port }');
  }
  return EndpointSource.single(options.path !== undefined ? { path: options.path } : { host: options.host, port: options.port });
}

function checked<T>(option: string, value: T, valid: (value: T) => boolean): T {
  if (!valid(value)) throw new InvalidOptionError(option, `${option}: ${String(value)} is not a valid value`);
  return value;
}
