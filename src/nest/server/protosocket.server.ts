import type net from 'node:net';
import tls from 'node:tls';
import { Logger } from '@nestjs/common';
import { type ClientOptions, type CustomTransportStrategy, type MessageHandler, type ReadPacket, Server } from '@nestjs/microservices';
import { type Observable, finalize, isObservable, map, throwError } from 'rxjs';
import { BoundedCache } from '../../core/bounded-cache.js';
import { messageOf, ProtosocketError } from '../../core/errors.js';
import { ServerStateError } from '../../rpc/errors.js';
import type { CallContext, PeerInfo } from '../../rpc/server/call-context.js';
import { type EventHandler, isAsyncIterable, isThenable, type RequestHandler } from '../../rpc/server/handler.js';
import type { RpcListenOptions, RpcServerSettings } from '../../rpc/server/options.js';
import { RpcServer } from '../../rpc/server/server.js';
import { NO_MESSAGE_HANDLER, PROTOSOCKET_TRANSPORT } from '../constants.js';
import { ProtosocketContext } from '../ctx-host/protosocket.context.js';
import { checkServerOptions } from '../option-check.js';
import type { ProtosocketServerOptions } from '../options.js';
import { ConnectionDiagnostics, type ConnectionErrorCounts } from './connection-diagnostics.js';

export type ProtosocketServerStatus = 'connected' | 'disconnected';

// Routes resolved per wire pattern, so a request costs a map lookup, not a JSON.parse. Only
// patterns that have a handler are kept: a peer sending distinct unknown patterns (up to 64 KiB
// each) must not be able to park them in the heap.
const ROUTE_CACHE_LIMIT = 1024;

type RpcSettings = RpcListenOptions & RpcServerSettings;

/** Nest's response packet as this transport serializes it: no `id`, as calls are matched by the frame's id. */
type ResponsePacket = { response: unknown } | { err: unknown; isDisposed: true };

/**
 * A NestJS transport strategy: `@MessagePattern` handlers answer calls, `@EventPattern`
 * handlers receive events, over the protosocket RPC protocol.
 *
 * Each call runs through Nest's own pipeline (guards, pipes, interceptors, filters, the
 * processing hooks). The handler's Observable is subscribed here, not through `Server.send`,
 * so the subscription is kept: a Cancel from the client, the deadline, or a lost connection
 * unsubscribes it, which tears the handler down and aborts `ctx.signal`.
 *
 * Packets: without a `deserializer`, a request's pattern and data are the frame's; with one,
 * the frame's data is deserialized (`{ channel: pattern }` as its options) into Nest's
 * `{ pattern, data }`, which routes the call. With a `serializer`, every response item is
 * `serializer.serialize({ response })` and every error body `serializer.serialize({ err })`.
 *
 * Peers that break the protocol, send oversized frames, stall mid-frame or fail the TLS
 * handshake are logged (warn, rate-limited) and counted in `connectionErrors`.
 */
export class ProtosocketServer extends Server<Record<string, Function>, ProtosocketServerStatus> implements CustomTransportStrategy {
  override readonly transportId = PROTOSOCKET_TRANSPORT;
  private rpc: RpcServer | undefined;
  /** Set once bound: only then does the net/tls server exist for `on()` to attach to. */
  private listening = false;
  private readonly routeCache = new BoundedCache<string, MessageHandler>(ROUTE_CACHE_LIMIT);
  private readonly requestHandlers = new BoundedCache<string, RequestHandler>(ROUTE_CACHE_LIMIT);
  private readonly eventHandlers = new BoundedCache<string, EventHandler>(ROUTE_CACHE_LIMIT);
  /** Whether instrumentation installed processing hooks; without them handlers run directly. */
  private processingHooks = false;
  /** `on()` listeners for the net/tls server, registered before it is bound. */
  private readonly pendingListeners: [string, Function][] = [];
  private readonly options: RpcSettings;
  /** Only a user's serializer changes what is sent: the default one is the identity. */
  private readonly serializesPackets: boolean;
  private readonly deserializesPackets: boolean;
  private readonly diagnostics = new ConnectionDiagnostics(new Logger('ProtosocketServer'));

  /** Throws ERR_INVALID_OPTION for an option it does not take (a Transport.TCP one names its equivalent). */
  constructor(options: ProtosocketServerOptions = {}) {
    super();
    const { rpc, packet } = checkServerOptions(options);
    this.options = rpc;
    this.initializeSerializer(packet as ClientOptions['options']);
    this.initializeDeserializer(packet as ClientOptions['options']);
    this.serializesPackets = packet.serializer !== undefined;
    this.deserializesPackets = packet.deserializer !== undefined;
  }

  /** The bound TCP port once listening. */
  get port(): number | undefined {
    return this.rpc?.port;
  }

  /** `close()` has begun: GoAway is sent and calls in flight are finishing. A readiness probe should fail from here on. */
  get draining(): boolean {
    return this.rpc?.draining ?? false;
  }

  /**
   * How many connections ended for each peer fault since the server started, by code:
   * ERR_PROTOCOL, ERR_FRAME_TOO_LARGE, ERR_FRAME_TIMEOUT, ERR_QUEUE_FULL (a client that stopped
   * reading), ERR_REACTOR, ERR_TLS_HANDSHAKE.
   */
  get connectionErrors(): ConnectionErrorCounts {
    return this.diagnostics.counts();
  }

  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    const rpc = new RpcServer({
      ...this.options,
      resolveHandler: this.deserializesPackets ? () => this.dispatchRequestPacket : (pattern) => this.requestHandler(pattern),
      resolveEventHandler: this.deserializesPackets ? () => this.dispatchEventPacket : (pattern) => this.eventHandler(pattern),
      serializeError: (err) => this.errorBody(err),
    });
    this.rpc = rpc;
    rpc.on('connectionError', (err, peer) => this.diagnostics.connectionClosed(err, peerName(peer)));
    // 'error' goes to the RPC server, which exists now; the rest wait for the net/tls server,
    // which exists only once bound.
    for (const [event, listener] of this.pendingListeners) if (event === 'error') this.attachListener(rpc, event, listener);
    rpc.listen().then(
      () => {
        this.listening = true;
        const server = rpc.unwrap();
        if (server instanceof tls.Server) {
          server.on('tlsClientError', (err: Error, socket: net.Socket) =>
            this.diagnostics.handshakeFailed(err, peerName({ remoteAddress: socket.remoteAddress, remotePort: socket.remotePort })),
          );
        }
        for (const [event, listener] of this.pendingListeners) if (event !== 'error') this.attachListener(rpc, event, listener);
        this.pendingListeners.length = 0;
        this._status$.next('connected');
        callback();
      },
      (err: unknown) => {
        this._status$.next('disconnected');
        callback(err);
      },
    );
  }

  /** Graceful: stops accepting, lets calls in flight finish (up to `drainTimeoutMs`), then closes. */
  async close(): Promise<void> {
    const rpc = this.rpc;
    if (rpc === undefined) return;
    await rpc.close();
    this._status$.next('disconnected');
  }

  /**
   * `'error'` is the RPC server's (handler-less errors); any other event is the net/tls
   * server's. Registered before `listen` has bound, a listener is attached once it has (so it
   * does not see `'listening'`).
   */
  on(event: string, callback: Function): void {
    const rpc = this.rpc;
    if (rpc !== undefined && (event === 'error' || this.listening)) this.attachListener(rpc, event, callback);
    else this.pendingListeners.push([event, callback]);
  }

  /** The `net.Server` (or `tls.Server`). */
  unwrap<T>(): T {
    if (this.rpc === undefined) throw new ServerStateError('Not initialized. Please call the "listen" method first.');
    return this.rpc.unwrap() as T;
  }

  private attachListener(rpc: RpcServer, event: string, callback: Function): void {
    const listener = callback as (...args: unknown[]) => void;
    if (event === 'error') rpc.on('error', listener);
    else rpc.unwrap().on(event, listener);
  }

  /** Memoized for patterns that have a handler: Nest's lookup parses the pattern as JSON (and throws for plain strings) on every call. */
  override getHandlerByPattern(pattern: string): MessageHandler | null {
    const cached = this.routeCache.get(pattern);
    if (cached !== undefined) return cached;
    const handler = super.getHandlerByPattern(pattern);
    if (handler === null) return null;
    this.routeCache.set(pattern, handler);
    return handler;
  }

  override addHandler(pattern: unknown, callback: MessageHandler, isEventHandler?: boolean, extras?: Record<string, unknown>): void {
    this.routeCache.clear();
    this.requestHandlers.clear();
    this.eventHandlers.clear();
    super.addHandler(pattern, callback, isEventHandler, extras);
  }

  override setOnProcessingStartHook(hook: Parameters<Server['setOnProcessingStartHook']>[0]): void {
    this.useProcessingHooks();
    super.setOnProcessingStartHook(hook);
  }

  override setOnProcessingEndHook(hook: Parameters<Server['setOnProcessingEndHook']>[0]): void {
    this.useProcessingHooks();
    super.setOnProcessingEndHook(hook);
  }

  /** From now on handlers run inside the hooks: cached direct-call handlers are dropped. */
  private useProcessingHooks(): void {
    this.processingHooks = true;
    this.eventHandlers.clear();
  }

  /**
   * A pattern that only has an `@EventPattern` handler is answered by it, with what it
   * returns, as Transport.TCP does (Nest's TCP server looks both kinds up the same way).
   * Undefined only for an event pattern under the protosocket-rpc profile, whose requests the
   * RPC server then runs through the event handler (a Rust peer has no events, PROTOCOL.md §12).
   */
  private requestHandler(pattern: string): RequestHandler | undefined {
    let requestHandler = this.requestHandlers.get(pattern);
    if (requestHandler !== undefined) return requestHandler;
    const handler = this.getHandlerByPattern(pattern);
    if (handler?.isEventHandler === true && this.options.protocol === 'protosocket-rpc') return undefined;
    if (handler === null) return noHandler;
    requestHandler = (data, call) => this.runHandler(handler, pattern, data, call);
    this.requestHandlers.set(pattern, requestHandler);
    return requestHandler;
  }

  /**
   * Without processing hooks, a known event's handler is called directly; an Observable it
   * returns is subscribed (run), as Nest's `handleEvent` does. Otherwise (hooks, or no handler,
   * which Nest logs) `handleEvent` itself runs.
   */
  private eventHandler(pattern: string): EventHandler {
    let eventHandler = this.eventHandlers.get(pattern);
    if (eventHandler !== undefined) return eventHandler;
    const handler = this.getHandlerByPattern(pattern);
    const viaHooks = (data: unknown, call: CallContext) => this.handleEvent(pattern, { pattern, data }, new ProtosocketContext([pattern, call]));
    // Unknown: not cached (see ROUTE_CACHE_LIMIT); `handleEvent` logs it as Nest does.
    if (handler === null) return viaHooks;
    eventHandler = this.processingHooks
      ? viaHooks
      : (data, call) => {
          const result = handler(data, new ProtosocketContext([pattern, call]));
          return isThenable(result) ? result.then(this.runEventResult) : this.runEventResult(result);
        };
    this.eventHandlers.set(pattern, eventHandler);
    return eventHandler;
  }

  /**
   * An Observable an event handler returned is run (subscribed), as Nest's `handleEvent` does.
   * Its error is dropped, as there: it is what Nest's exception filter made of the handler's
   * failure, and the filter has logged that already.
   */
  private readonly runEventResult = (result: unknown): void => {
    if (isObservable(result)) result.subscribe({ error: noop });
  };

  /** With a `deserializer`: the frame's data is Nest's packet; its pattern (the frame's when it has none) routes the call. */
  private readonly dispatchRequestPacket: RequestHandler = (data, call) => {
    const packet = this.deserializer.deserialize(data, { channel: call.pattern }) as ReadPacket | undefined | PromiseLike<ReadPacket | undefined>;
    const run = (read: ReadPacket | undefined): unknown => {
      const route = this.routeOf(read, call);
      return (this.requestHandler(route) ?? this.eventHandler(route))(read?.data, call);
    };
    return isThenable(packet) ? Promise.resolve(packet).then(run) : run(packet);
  };

  private readonly dispatchEventPacket: EventHandler = (data, call) => {
    const packet = this.deserializer.deserialize(data, { channel: call.pattern }) as ReadPacket | undefined | PromiseLike<ReadPacket | undefined>;
    const run = (read: ReadPacket | undefined): unknown => this.eventHandler(this.routeOf(read, call))(read?.data, call);
    return isThenable(packet) ? Promise.resolve(packet).then(run) : run(packet);
  };

  private routeOf(packet: ReadPacket | undefined, call: CallContext): string {
    const pattern: unknown = packet?.pattern;
    return pattern === undefined || pattern === null ? call.pattern : this.getPatternAsString(pattern);
  }

  /**
   * The error body sent for what a handler's stream failed with: byte for byte Transport.TCP's
   * (which JSON-encodes the value Nest's exception filters produced), so an Error instance
   * arrives as its JSON (`{}` for `new Error('x')`, `{ error, message }` for an RpcException),
   * whatever the codec. This transport's own errors (ERR_SLOW_CONSUMER, ERR_DEADLINE_EXCEEDED,
   * an unencodable reply...) become `{ status: 'error', message, code }`. With a `serializer`,
   * the body is `serializer.serialize({ err, isDisposed: true })`.
   */
  private errorBody(err: unknown): unknown {
    const body = err instanceof ProtosocketError ? { status: 'error', message: err.message, code: err.code } : err;
    if (this.serializesPackets) return this.serializePacket({ err: body, isDisposed: true });
    return body instanceof Error ? jsonValueOf(body) : body;
  }

  private serializePacket(packet: ResponsePacket): unknown {
    return this.serializer.serialize(packet as Parameters<Server['serializer']['serialize']>[0]);
  }

  /** With a `serializer`, each item is sent as `serializer.serialize({ response })` (an AsyncIterable item by item). */
  private serializeResponses(result: unknown): unknown {
    if (!this.serializesPackets) return result;
    const serialize = (response: unknown): unknown =>
      isAsyncIterable(response) && !(response instanceof Uint8Array) ? serializeEach(response, (item) => this.serializePacket({ response: item })) : this.serializePacket({ response });
    return (this.transformToObservable(result) as Observable<unknown>).pipe(map(serialize));
  }

  /**
   * Runs a handler and hands back what it produced, unsubscribed: the RPC layer subscribes and
   * keeps the subscription. Without processing hooks (instrumentation) the handler is called
   * directly; with them, inside `runWithProcessingHooks`, the end hook running when the
   * handler's Observable finalizes.
   */
  private runHandler(handler: MessageHandler, pattern: string, data: unknown, call: CallContext): unknown {
    const context = new ProtosocketContext([pattern, call]);
    if (!this.processingHooks) return this.serializeResponses(handler(data, context));
    return new Promise((resolve, reject) => {
      const started: unknown = this.runWithProcessingHooks(context, async (runEndHook) => {
        const result$ = this.transformToObservable(await handler(data, context)) as Observable<unknown>;
        resolve(this.serializeResponses(result$.pipe(finalize(runEndHook))));
      });
      // The hooks return the start hook's promise (typed void): a rejection means the handler threw before producing a stream.
      Promise.resolve(started).catch(reject);
    });
  }
}

function noHandler(): Observable<never> {
  return throwError(() => NO_MESSAGE_HANDLER);
}

function noop(): void {}

/** `host:port` (or the address alone, or undefined for a Unix socket peer). */
function peerName(peer: PeerInfo): string | undefined {
  if (peer.remoteAddress === undefined) return undefined;
  return peer.remotePort === undefined ? peer.remoteAddress : `${peer.remoteAddress}:${peer.remotePort}`;
}

/** What JSON makes of a value (what Transport.TCP sends); one JSON cannot carry (a cycle, a BigInt) becomes a plain error body. */
function jsonValueOf(value: unknown): unknown {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return { status: 'error', message: messageOf(value) };
  }
}

async function* serializeEach(source: AsyncIterable<unknown>, serialize: (item: unknown) => unknown): AsyncGenerator<unknown> {
  for await (const item of source) yield serialize(item);
}
