import type { OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { InvalidMessageException } from '@nestjs/microservices/errors/invalid-message.exception.js';
import { Observable, type Subscriber } from 'rxjs';
import type { CallObserver, CallOptions } from '../../rpc/client/call.js';
import { RpcClient, type RpcClientStatus } from '../../rpc/client/client.js';
import { RemoteError } from '../../rpc/errors.js';
import type { ProtosocketClientOptions } from '../options.js';

// Assigned in ProtosocketClient's static block: what `send`'s subscribers see of a reply value
// and of a failure (the server's error body, or the transport's error), through ClientProxy's hooks.
let responseOf: (client: ProtosocketClient, value: unknown) => unknown;
let errorOf: (client: ProtosocketClient, err: Error) => unknown;

/** Per-call options, the optional third argument of `send`. */
export type ProtosocketCallOptions = Omit<CallOptions, 'meta'>;

/**
 * A NestJS `ClientProxy` over the protosocket RPC protocol: every `send` is multiplexed over
 * one connection, and unsubscribing before the reply completes sends Cancel, so the server's
 * handler is torn down too.
 *
 * Errors surface as with Nest's TCP transport: the server's error body (what its exception
 * filters produced) goes through `serializeError`; transport failures are Errors with a `code`
 * (ERR_CONNECTION_CLOSED, ERR_DEADLINE_EXCEEDED, ECONNREFUSED...).
 */
// The base's Status parameter stays `string`: `_status$` is a ReplaySubject, invariant in its
// type, so a narrower Status would make this class unassignable to `Type<ClientProxy>` and
// `ClientsModule.register({ customClass: ProtosocketClient })` would not compile under strict.
// `status` is narrowed below instead; only RpcClientStatus values are ever pushed.
export class ProtosocketClient extends ClientProxy<Record<never, Function>> implements OnApplicationShutdown {
  private readonly rpc: RpcClient;
  /** Normalized patterns whose `send()` streams (protosocket-rpc profile). */
  private readonly streamingPatterns: ReadonlySet<string>;

  static {
    // ClientProxy's hooks are protected: this module's SubscriberObserver reaches them through these.
    responseOf = (client, value) => client.serializeResponse(value);
    errorOf = (client, err) => client.serializeError(err instanceof RemoteError ? err.body : err);
  }

  constructor(options: ProtosocketClientOptions = {}) {
    super();
    const { streamingPatterns = [], ...rpcOptions } = options;
    this.rpc = new RpcClient(rpcOptions);
    this.streamingPatterns = new Set(streamingPatterns.map((pattern) => this.normalizePattern(pattern)));
    this.rpc.on('status', (status) => this._status$.next(status));
  }

  /** idle, connecting, connected, disconnected (reconnecting in the background), closed. */
  override get status(): Observable<RpcClientStatus> {
    return super.status as Observable<RpcClientStatus>;
  }

  /** Connects if not connected. Idempotent; calls connect on their own when needed. */
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
    if (pattern === null || pattern === undefined || data === null || data === undefined) {
      return new Observable((subscriber) => subscriber.error(new InvalidMessageException()));
    }
    return new Observable<TResult>((subscriber) => {
      const packet = this.createPacket(pattern, data);
      const route = this.normalizePattern(pattern as string);
      let callOptions: CallOptions | undefined = packet.metadata === undefined ? options : { ...options, meta: packet.metadata };
      if (options?.stream === undefined && this.streamingPatterns.has(route)) callOptions = { ...callOptions, stream: true };
      return this.rpc.open(route, packet.data, new SubscriberObserver(this, subscriber), callOptions);
    });
  }

  /**
   * Hot, as Nest's: the event is sent at once, subscribed or not; the Observable emits
   * `undefined` and completes once it is queued (or, when the connection is full, once it
   * drained), and errors if it could not be sent.
   */
  override emit<TResult = unknown, TInput = unknown>(pattern: unknown, data: TInput): Observable<TResult> {
    if (pattern === null || pattern === undefined || data === null || data === undefined) {
      return new Observable((subscriber) => subscriber.error(new InvalidMessageException()));
    }
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

  /** Takes no new calls, waits for calls in flight (up to `closeTimeoutMs`), then closes. */
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
    const route = this.normalizePattern(packet.pattern);
    const stream = this.streamingPatterns.has(route) ? true : undefined;
    const handle = this.rpc.open(
      route,
      packet.data,
      {
        next: (response) => callback({ response }),
        error: (err) => callback({ err: err instanceof RemoteError ? err.body : err, isDisposed: true }),
        complete: () => callback({ isDisposed: true }),
      },
      packet.metadata === undefined && stream === undefined ? undefined : { meta: packet.metadata, stream },
    );
    return () => handle.cancel();
  }

  protected dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    return this.rpc.sendEvent(this.normalizePattern(packet.pattern), packet.data, packet.metadata) as Promise<T>;
  }
}

/**
 * Hands a call's results to the subscriber of `send`'s Observable. One object per call in place
 * of an observer literal and its three closures (the subscriber and the Observable themselves
 * are what the ClientProxy contract asks for).
 */
class SubscriberObserver implements CallObserver {
  constructor(
    private readonly client: ProtosocketClient,
    private readonly subscriber: Subscriber<never>,
  ) {}

  next(value: unknown): void {
    this.subscriber.next(responseOf(this.client, value) as never);
  }

  error(err: Error): void {
    this.subscriber.error(errorOf(this.client, err));
  }

  complete(): void {
    this.subscriber.complete();
  }
}

function noop(): void {}
