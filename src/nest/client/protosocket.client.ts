import type { OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy, type ClientOptions, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { Observable, type Subscriber } from 'rxjs';
import { type CallHandle, type CallObserver, type CallOptions, SETTLED_HANDLE } from '../../rpc/client/call.js';
import { RpcClient, type RpcClientStatus } from '../../rpc/client/client.js';
import { RemoteError } from '../../rpc/errors.js';
import type { Metadata } from '../../rpc/wire/frame.js';
import { checkClientOptions } from '../option-check.js';
import type { ProtosocketClientOptions } from '../options.js';
import { wirePattern } from '../wire-pattern.js';
import { ResponseReader, type ResponseSink } from './response-reader.js';

// Assigned in ProtosocketClient's static block: what `send`'s subscribers see of a reply value
// and of a failure (the server's error body, or the transport's error), through ClientProxy's hooks.
let responseOf: (client: ProtosocketClient, value: unknown) => unknown;
let errorOf: (client: ProtosocketClient, err: unknown) => unknown;

/** Per-call options, the optional third argument of `send`. */
export type ProtosocketCallOptions = Omit<CallOptions, 'meta'>;


/**
 * A NestJS `ClientProxy` over the protosocket RPC protocol: every `send` is multiplexed over
 * one connection (per endpoint, with several servers), and unsubscribing before the reply completes sends Cancel, so the server's
 * handler is torn down too.
 *
 * Errors surface as with Nest's TCP transport: the server's error body (what its exception
 * filters produced) goes through `serializeError`; transport failures are Errors with a `code`
 * (ERR_CONNECTION_CLOSED, ERR_DEADLINE_EXCEEDED, ECONNREFUSED...).
 *
 * Packets: without a `serializer`, a request travels as its parts (pattern, data, metadata);
 * with one, the frame's data is what `serializer.serialize({ pattern, data, metadata })`
 * returned, for the server's `deserializer`. Likewise a `deserializer` receives each response
 * frame's data and returns Nest's `{ response, err }`.
 */
// The base's Status parameter stays `string`: `_status$` is a ReplaySubject, invariant in its
// type, so a narrower Status would make this class unassignable to `Type<ClientProxy>` and
// `ClientsModule.register({ customClass: ProtosocketClient })` would not compile under strict.
// `status` is narrowed below instead; only RpcClientStatus values are ever pushed.
export class ProtosocketClient extends ClientProxy<Record<never, Function>> implements OnApplicationShutdown {
  private readonly rpc: RpcClient;
  /** Only a user's serializer changes what is sent: the default one is the identity. */
  private readonly serializesPackets: boolean;
  private readonly deserializesPackets: boolean;
  /** Normalized patterns whose `send()` streams (protosocket-rpc profile). */
  private readonly streamingPatterns: ReadonlySet<string>;

  static {
    // ClientProxy's hooks are protected: this module's subscriber observers reach them through these.
    responseOf = (client, value) => client.serializeResponse(value);
    errorOf = (client, err) => client.serializeError(err);
  }

  /** Throws ERR_INVALID_OPTION for an option it does not take, and without a `port`, `path`, `endpoints` or `resolver`. */
  constructor(options: ProtosocketClientOptions = {}) {
    super();
    const { rpc, packet } = checkClientOptions(options);
    this.initializeSerializer(packet as ClientOptions['options']);
    this.initializeDeserializer(packet as ClientOptions['options']);
    this.serializesPackets = packet.serializer !== undefined;
    this.deserializesPackets = packet.deserializer !== undefined;
    const { streamingPatterns = [], ...rpcOptions } = rpc;
    this.rpc = new RpcClient(rpcOptions);
    this.streamingPatterns = new Set(streamingPatterns.map((pattern) => this.normalizePattern(pattern)));
    this.rpc.on('status', (status) => this._status$.next(status));
  }

  /** idle, connecting, connected, disconnected (reconnecting in the background), closed. */
  override get status(): Observable<RpcClientStatus> {
    return super.status as Observable<RpcClientStatus>;
  }

  /** Connects if not connected (again after `close()`, as Transport.TCP does). Idempotent; calls connect on their own when needed. */
  connect(): Promise<void> {
    return this.rpc.connect();
  }

  /**
   * Cold: nothing is sent until subscribed; each subscription is one call. The optional
   * `options` carry a per-call deadline (`timeoutMs`, which the server sees as `ctx.getDeadline()`),
   * an AbortSignal, and (protosocket-rpc profile) `stream: true` for a streaming call; without
   * it the `streamingPatterns` option decides.
   */
  override send<TResult = unknown, TInput = unknown>(pattern: unknown, data: TInput, options?: ProtosocketCallOptions): Observable<TResult> {
    // Nest's own check and InvalidMessageException, through the public ClientProxy.
    if (pattern === null || pattern === undefined || data === null || data === undefined) return super.send(pattern, data);
    return new Observable<TResult>((subscriber) => {
      const observer: CallObserver = this.deserializesPackets
        ? new ResponseReader(this.deserializer, new SubscriberSink(this, subscriber))
        : new SubscriberObserver(this, subscriber);
      return this.openCall(this.createPacket(pattern, data), options, observer);
    });
  }

  /**
   * Hot, as Nest's: the event is sent at once, subscribed or not; the Observable emits
   * `undefined` and completes once it is queued (or, when the connection is full, once it
   * drained), and errors if it could not be sent.
   */
  override emit<TResult = unknown, TInput = unknown>(pattern: unknown, data: TInput): Observable<TResult> {
    if (pattern === null || pattern === undefined || data === null || data === undefined) return super.emit(pattern, data);
    const sent = this.dispatchEvent(this.createPacket(pattern, data));
    // Nobody may subscribe: the failure is delivered to subscribers, never left unhandled.
    sent.catch(noop);
    return new Observable<TResult>((subscriber) => {
      sent.then(
        () => {
          subscriber.next(undefined as TResult);
          subscriber.complete();
        },
        (err: unknown) => subscriber.error(err),
      );
    });
  }

  /**
   * Takes no new calls on the current connection, waits for its calls in flight (up to
   * `closeTimeoutMs`), then closes it. As with Transport.TCP, a later `connect()` or call
   * opens a new connection.
   */
  async close(): Promise<void> {
    await this.rpc.close();
  }

  onApplicationShutdown(): Promise<void> {
    return this.close();
  }

  /** Listens to the RPC client's `'status'` and `'error'` events. */
  override on(event: string, callback: Function): void {
    this.rpc.on(event as 'error', callback as (err: Error) => void);
  }

  /** The underlying `RpcClient` (the transport's native client). */
  unwrap<T>(): T {
    return this.rpc as T;
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const sink: ResponseSink = {
      next: (response) => callback({ response }),
      error: (err) => callback({ err, isDisposed: true }),
      complete: () => callback({ isDisposed: true }),
    };
    const observer: CallObserver = this.deserializesPackets
      ? new ResponseReader(this.deserializer, sink)
      : { next: sink.next, error: (err) => sink.error(err instanceof RemoteError ? err.body : err), complete: sink.complete };
    const handle = this.openCall(packet, undefined, observer);
    return () => handle.cancel();
  }

  protected dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    let route: string;
    try {
      route = wirePattern(this.normalizePattern(packet.pattern));
    } catch (err) {
      return Promise.reject(err);
    }
    const data = this.serializesPackets ? this.serializer.serialize({ ...packet, pattern: route }) : packet.data;
    return this.rpc.sendEvent(route, data, packet.metadata as Metadata | undefined) as Promise<T>;
  }

  /** One call of `packet`, its results to `observer`; a pattern the wire cannot carry fails it at once. */
  private openCall(packet: ReadPacket, options: ProtosocketCallOptions | undefined, observer: CallObserver): CallHandle {
    let route: string;
    try {
      route = wirePattern(this.normalizePattern(packet.pattern));
    } catch (err) {
      observer.error(err as Error);
      return SETTLED_HANDLE;
    }
    const data = this.serializesPackets ? this.serializer.serialize(packet) : packet.data;
    const meta = packet.metadata as Metadata | undefined;
    let callOptions: CallOptions | undefined = meta === undefined ? options : { ...options, meta };
    if (options?.stream === undefined && this.streamingPatterns.has(route)) callOptions = { ...callOptions, stream: true };
    return this.rpc.open(route, data, observer, callOptions);
  }
}

/** Hands a call's results, as Nest's `response` / `err` fields, to the subscriber of `send`'s Observable. */
class SubscriberSink implements ResponseSink {
  constructor(
    private readonly client: ProtosocketClient,
    private readonly subscriber: Subscriber<never>,
  ) {}

  next(response: unknown): void {
    this.subscriber.next(responseOf(this.client, response) as never);
  }

  error(err: unknown): void {
    this.subscriber.error(errorOf(this.client, err));
  }

  complete(): void {
    this.subscriber.complete();
  }
}

/**
 * The call's observer itself when there is no deserializer: a remote error is its body, as Nest's
 * `err` field. One object per call in place of an observer literal and its three closures.
 */
class SubscriberObserver extends SubscriberSink implements CallObserver {
  override error(err: unknown): void {
    super.error(err instanceof RemoteError ? err.body : err);
  }
}

function noop(): void {}
