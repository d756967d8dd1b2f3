import { type CustomTransportStrategy, type MessageHandler, Server } from '@nestjs/microservices';
import { type Observable, finalize, isObservable, throwError } from 'rxjs';
import { BoundedCache } from '../../core/bounded-cache.js';
import { ServerStateError } from '../../rpc/errors.js';
import type { CallContext } from '../../rpc/server/call-context.js';
import { type EventHandler, isThenable, type RequestHandler } from '../../rpc/server/handler.js';
import { RpcServer } from '../../rpc/server/server.js';
import { NO_MESSAGE_HANDLER, PROTOSOCKET_TRANSPORT } from '../constants.js';
import { ProtosocketContext } from '../ctx-host/protosocket.context.js';
import type { ProtosocketServerOptions } from '../options.js';

export type ProtosocketServerStatus = 'connected' | 'disconnected';

// Routes resolved per wire pattern, so a request costs a map lookup, not a JSON.parse.
const ROUTE_CACHE_LIMIT = 1024;

/**
 * A NestJS transport strategy: `@MessagePattern` handlers answer calls, `@EventPattern`
 * handlers receive events, over the protosocket RPC protocol.
 *
 * Each call runs through Nest's own pipeline (guards, pipes, interceptors, filters, the
 * processing hooks). The handler's Observable is subscribed here, not through `Server.send`,
 * so the subscription is kept: a Cancel from the client, the deadline, or a lost connection
 * unsubscribes it, which tears the handler down and aborts `ctx.getSignal()`.
 */
export class ProtosocketServer extends Server<Record<string, Function>, ProtosocketServerStatus> implements CustomTransportStrategy {
  override readonly transportId = PROTOSOCKET_TRANSPORT;
  private rpc: RpcServer | undefined;
  /** Set once bound: only then does the net/tls server exist for `on()` to attach to. */
  private listening = false;
  private readonly routeCache = new BoundedCache<string, MessageHandler | null>(ROUTE_CACHE_LIMIT);
  private readonly requestHandlers = new BoundedCache<string, RequestHandler>(ROUTE_CACHE_LIMIT);
  private readonly eventHandlers = new BoundedCache<string, EventHandler>(ROUTE_CACHE_LIMIT);
  /** Whether instrumentation installed processing hooks; without them handlers run directly. */
  private processingHooks = false;
  /** `on()` listeners for the net/tls server, registered before it is bound. */
  private readonly pendingListeners: [string, Function][] = [];

  constructor(private readonly options: ProtosocketServerOptions = {}) {
    super();
  }

  /** The bound TCP port once listening. */
  get port(): number | undefined {
    return this.rpc?.port;
  }

  /** `close()` has begun: GoAway is sent and calls in flight are finishing. A readiness probe should fail from here on. */
  get draining(): boolean {
    return this.rpc?.draining ?? false;
  }

  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    const rpc = new RpcServer({
      ...this.options,
      resolveHandler: (pattern) => this.requestHandler(pattern),
      resolveEventHandler: (pattern) => this.eventHandler(pattern),
      serializeError,
    });
    this.rpc = rpc;
    // 'error' goes to the RPC server, which exists now; the rest wait for the net/tls server,
    // which exists only once bound.
    for (const [event, listener] of this.pendingListeners) if (event === 'error') this.attachListener(rpc, event, listener);
    rpc.listen().then(
      () => {
        this.listening = true;
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

  /** Memoized: Nest's lookup parses the pattern as JSON (and throws for plain strings) on every call. */
  override getHandlerByPattern(pattern: string): MessageHandler | null {
    let handler = this.routeCache.get(pattern);
    if (handler === undefined) {
      handler = super.getHandlerByPattern(pattern);
      this.routeCache.set(pattern, handler);
    }
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
   * Undefined only for an event pattern under the protosocket-rpc profile, whose requests the
   * RPC server then runs through the event handler (a Rust peer has no events, PROTOCOL.md §12).
   */
  private requestHandler(pattern: string): RequestHandler | undefined {
    let requestHandler = this.requestHandlers.get(pattern);
    if (requestHandler !== undefined) return requestHandler;
    const handler = this.getHandlerByPattern(pattern);
    if (handler?.isEventHandler === true && this.options.protocol === 'protosocket-rpc') return undefined;
    if (handler === null || handler.isEventHandler) return noHandler;
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
    const handler = this.processingHooks ? null : this.getHandlerByPattern(pattern);
    eventHandler =
      handler === null
        ? (data, call) => this.handleEvent(pattern, { pattern, data }, new ProtosocketContext([pattern, call]))
        : (data, call) => {
            const result = handler(data, new ProtosocketContext([pattern, call]));
            return isThenable(result) ? result.then(this.runEventResult) : this.runEventResult(result);
          };
    this.eventHandlers.set(pattern, eventHandler);
    return eventHandler;
  }

  /** An Observable an event handler returned is run (subscribed), as Nest's `handleEvent` does. */
  private readonly runEventResult = (result: unknown): void => {
    if (isObservable(result)) result.subscribe({ error: (err: unknown) => this.logger.error(err) });
  };

  /**
   * Runs a handler and hands back what it produced, unsubscribed: the RPC layer subscribes and
   * keeps the subscription. Without processing hooks (instrumentation) the handler is called
   * directly; with them, inside `runWithProcessingHooks`, the end hook running when the
   * handler's Observable finalizes.
   */
  private runHandler(handler: MessageHandler, pattern: string, data: unknown, call: CallContext): unknown {
    const context = new ProtosocketContext([pattern, call]);
    if (!this.processingHooks) return handler(data, context);
    return new Promise((resolve, reject) => {
      const started: unknown = this.runWithProcessingHooks(context, async (runEndHook) => {
        const result$ = this.transformToObservable(await handler(data, context)) as Observable<unknown>;
        resolve(result$.pipe(finalize(runEndHook)));
      });
      // The hooks return the start hook's promise (typed void): a rejection means the handler threw before producing a stream.
      Promise.resolve(started).catch(reject);
    });
  }
}

function noHandler(): Observable<never> {
  return throwError(() => NO_MESSAGE_HANDLER);
}

/**
 * Error bodies as Nest's transports send them: what the exception filters produced passes
 * through untouched; a bare Error (one of this transport's, such as ERR_SLOW_CONSUMER) becomes
 * `{ status: 'error', message, code }`.
 */
function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  return { status: 'error', message: err.message, ...(typeof code === 'string' ? { code } : {}) };
}
