import { EventEmitter } from 'node:events';
import type net from 'node:net';
import type tls from 'node:tls';
import { listen, type Listener } from '../../core/listener.js';
import { ServerStateError } from '../errors.js';
import { durationOption } from '../duration-option.js';
import { keepaliveSettings } from '../keepalive.js';
import { ControlCode } from '../wire/control-code.js';
import type { RpcFrame } from '../wire/frame.js';
import type { PeerInfo } from './call-context.js';
import { defaultSerializeError, type EventHandler, type RequestHandler } from './handler.js';
import type { RpcServerOptions } from './options.js';
import { jsonCodec } from '../wire/json-codec.js';
import { codecFor, profileOf } from '../wire/profile.js';
import { ServerSession } from './session.js';

export type { RpcListenOptions, RpcServerHooks, RpcServerOptions, RpcServerSettings } from './options.js';

/** How long closed connections wait for their clients to end, after the drain, before being cut off. */
const CLOSE_GRACE_MS = 2000;

const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

export interface RpcServerEvents {
  /** An error with no call to report it to: a failing event handler, a listener error, a failed TLS handshake. */
  error: [error: unknown];
  /** A connection closed with an error (a protocol violation, an oversized or stalled frame, a reset...). */
  connectionError: [error: Error, peer: PeerInfo];
}

/**
 * Serves RPC calls and events over one listening endpoint. Each connection gets its own
 * `ServerSession`; handlers are shared.
 */
export class RpcServer extends EventEmitter<RpcServerEvents> {
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly eventHandlers = new Map<string, EventHandler>();
  private readonly sessions = new Set<ServerSession>();
  private listener: Listener<RpcFrame, RpcFrame> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: RpcServerOptions = {}) {
    super();
  }

  handle(pattern: string, handler: RequestHandler): this {
    this.handlers.set(pattern, handler);
    return this;
  }

  handleEvent(pattern: string, handler: EventHandler): this {
    this.eventHandlers.set(pattern, handler);
    return this;
  }

  /** Binds the endpoint the options name and starts accepting. Rejects if binding fails (for example EADDRINUSE), and with ERR_SERVER_STATE if already listening or closed. */
  async listen(): Promise<void> {
    if (this.listener !== undefined) throw new ServerStateError('already listening');
    if (this.closing !== undefined) throw new ServerStateError('server is closed');
    const profile = profileOf(this.options.protocol);
    const codec = codecFor(this.options.codec ?? jsonCodec, profile);
    const sessionOptions = {
      profile,
      resolveHandler: (pattern: string) => this.handlers.get(pattern) ?? this.options.resolveHandler?.(pattern),
      resolveEventHandler: (pattern: string) => this.eventHandlers.get(pattern) ?? this.options.resolveEventHandler?.(pattern),
      serializeError: this.options.serializeError ?? defaultSerializeError,
      reportError: (err: unknown) => this.reportError(err),
      maxConcurrentCalls: this.options.maxConcurrentCalls ?? 1024,
      maxQueuedRequestBytes: this.options.maxQueuedRequestBytes ?? 16 * 1024 * 1024,
      maxBufferedItems: this.options.maxBufferedItems ?? 4 * 1024 * 1024,
      maxBufferedBytes: this.options.maxBufferedBytes ?? 256 * 1024 * 1024,
      drainTimeoutMs: this.options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
      upkeep: {
        // protosocket-rpc has no Ping: no heartbeat towards its peers, whatever the options say.
        keepalive: profile.sends(ControlCode.Ping) ? keepaliveSettings(this.options.keepaliveIntervalMs ?? 0, this.options.keepaliveTimeoutMs) : undefined,
        maxAgeMs: durationOption('maxConnectionAgeMs', this.options.maxConnectionAgeMs),
        // 0 is a grace of none: calls still running at the age GoAway fail at once.
        maxAgeGraceMs: this.options.maxConnectionAgeGraceMs === 0 ? 0 : durationOption('maxConnectionAgeGraceMs', this.options.maxConnectionAgeGraceMs),
        idleTimeoutMs: durationOption('idleTimeoutMs', this.options.idleTimeoutMs),
      },
    };
    this.listener = await listen<RpcFrame, RpcFrame>({
      ...this.options,
      ...codec,
      reactor: (connection) => {
        const session = new ServerSession(connection, sessionOptions);
        this.sessions.add(session);
        void connection.closed.then((reason) => {
          this.sessions.delete(session);
          if (reason !== undefined && this.listenerCount('connectionError') > 0) {
            this.emit('connectionError', reason, { remoteAddress: connection.remoteAddress, remotePort: connection.remotePort });
          }
        });
        return session;
      },
    });
    this.listener.on('error', (err) => this.reportError(err));
    this.listener.on('clientError', (err) => this.reportError(err));
  }

  /** The bound TCP port. */
  get port(): number | undefined {
    return this.listener?.port;
  }

  /** Bound and accepting: `listen()` resolved and `close()` has not been called. */
  get listening(): boolean {
    return this.listener !== undefined && this.closing === undefined;
  }

  /**
   * `close()` has been called: GoAway is sent, no new connection is accepted, and calls in
   * flight are finishing. Stays true once closed. What a readiness check turns down on.
   */
  get draining(): boolean {
    return this.closing !== undefined;
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  /** The underlying net or TLS server; throws ERR_SERVER_STATE before `listen`. */
  unwrap(): net.Server | tls.Server {
    if (this.listener === undefined) throw new ServerStateError('not listening');
    return this.listener.unwrap();
  }

  /**
   * Graceful shutdown: stops accepting, sends GoAway on every connection, lets calls in flight
   * finish for up to `drainTimeoutMs` (the option, unless given here), fails the rest with
   * ERR_SHUTTING_DOWN, then closes the connections (queued frames are written first).
   * Idempotent: a second call returns the first one's promise.
   */
  close(drainTimeoutMs = this.options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS): Promise<void> {
    this.closing ??= this.shutdown(drainTimeoutMs);
    return this.closing;
  }

  private async shutdown(drainTimeoutMs: number): Promise<void> {
    const listener = this.listener;
    if (listener === undefined) return;
    const stopped = listener.stopAccepting();
    const sessions = [...this.sessions];
    for (const session of sessions) session.goAway();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainTimeoutMs)));
    await Promise.race([Promise.all(sessions.map((session) => session.whenIdle())), timedOut]);
    clearTimeout(timer);
    for (const session of sessions) session.abandonAll();
    // Connections close once each client ends its side too; one that does not is cut off.
    const closed = listener.close();
    const cutOff = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
    await Promise.race([closed, cutOff]);
    clearTimeout(timer);
    listener.destroy();
    await Promise.all([stopped, closed]);
  }

  private reportError(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}
