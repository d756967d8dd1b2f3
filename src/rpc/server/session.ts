import type { Connection, Reactor } from '../../core/connection.js';
import { ConnectionClosedError, EncodeError, FrameTooLargeError, ProtocolError } from '../../core/errors.js';
import { CallContext, type PeerInfo } from './call-context.js';
import { ControlCode } from '../wire/control-code.js';
import { CancelledError, DeadlineExceededError, ServerErrorCode, ShuttingDownError } from '../errors.js';
import type { RpcFrame } from '../wire/frame.js';
import type { EventHandler, RequestHandler } from './handler.js';
import { type CallHost, ServerCall } from './call.js';

export interface ServerSessionOptions {
  resolveHandler(pattern: string): RequestHandler | undefined;
  resolveEventHandler(pattern: string): EventHandler | undefined;
  serializeError(err: unknown): unknown;
  /** Reported errors that have no call to go to (event handlers, unknown events). */
  reportError(err: unknown): void;
  maxConcurrentCalls: number;
  maxBufferedItems: number;
}

/**
 * The server side of one RPC connection: dispatches requests and events, tracks the calls in
 * flight by id, and applies the per-connection concurrency cap by pausing reads (TCP then
 * pushes back on the client) rather than queueing requests without bound.
 */
export class ServerSession implements Reactor<RpcFrame>, CallHost {
  private readonly calls = new Map<number, ServerCall>();
  private readonly waitingForRoom = new Set<ServerCall>();
  private idleWaiters: (() => void)[] = [];
  private readonly peer: PeerInfo;
  readonly maxBufferedItems: number;

  constructor(
    private readonly connection: Connection<RpcFrame, RpcFrame>,
    private readonly options: ServerSessionOptions,
  ) {
    this.peer = { remoteAddress: connection.remoteAddress, remotePort: connection.remotePort };
    this.maxBufferedItems = options.maxBufferedItems;
  }

  get inFlight(): number {
    return this.calls.size;
  }

  get conn(): Connection<RpcFrame, RpcFrame> {
    return this.connection;
  }

  get writable(): boolean {
    return this.connection.writable;
  }

  onMessage(frame: RpcFrame): void {
    switch (frame.code) {
      case ControlCode.Normal:
        this.onRequest(frame);
        return;
      case ControlCode.Cancel:
        // A Cancel for a call that already finished (or never existed) is normal: ignore it.
        // One with `timeoutMs` is the client's deadline passing, which our own timer may not have seen yet.
        this.calls
          .get(frame.id)
          ?.abort(frame.timeoutMs === undefined ? new CancelledError('call cancelled by the client') : new DeadlineExceededError(frame.timeoutMs));
        return;
      case ControlCode.Event:
        this.onEvent(frame);
        return;
      case ControlCode.Ping:
        this.trySend({ id: frame.id, code: ControlCode.Pong });
        return;
      case ControlCode.Pong:
      case ControlCode.End:
        return;
      default:
        this.connection.destroy(new ProtocolError(`a client must not send control code ${frame.code}`));
    }
  }

  onClose(reason: Error | undefined): void {
    const lost = new ConnectionClosedError(reason === undefined ? 'connection closed' : `connection closed: ${reason.message}`, { cause: reason });
    for (const call of [...this.calls.values()]) call.abort(lost);
    this.waitingForRoom.clear();
    this.wakeIdleWaiters();
  }

  /** Tells the client to send no new calls here (graceful shutdown). */
  goAway(): void {
    if (this.connection.state !== 'open') return;
    try {
      this.connection.send({ id: 0, code: ControlCode.GoAway });
    } catch {
      // The connection is failing anyway; shutdown closes it.
    }
  }

  /** Fails every call still running with ERR_SHUTTING_DOWN. */
  abandonAll(): void {
    for (const call of [...this.calls.values()]) {
      const reason = new ShuttingDownError();
      call.abort(reason);
      this.trySend({ id: call.id, code: ControlCode.Error, data: { code: reason.code, message: reason.message } });
    }
  }

  whenIdle(): Promise<void> {
    if (this.calls.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // CallHost

  /**
   * Sends a frame of a call. Encoding errors are thrown for the call to turn into an Error
   * reply; a full queue means the client stopped reading, and the connection is destroyed.
   */
  send(frame: RpcFrame): void {
    if (this.connection.state !== 'open') return;
    try {
      this.connection.send(frame);
    } catch (err) {
      if (err instanceof EncodeError || err instanceof FrameTooLargeError) throw err;
      this.connection.destroy(err as Error);
    }
  }

  waitWritable(call: ServerCall): void {
    const first = this.waitingForRoom.size === 0;
    this.waitingForRoom.add(call);
    if (first) this.connection.waitForDrain().then(() => this.onDrain(), noop);
  }

  waitForDrain(): Promise<void> {
    return this.connection.waitForDrain();
  }

  serializeError(err: unknown): unknown {
    return this.options.serializeError(err);
  }

  finished(call: ServerCall): void {
    if (this.calls.get(call.id) === call) this.calls.delete(call.id);
    this.waitingForRoom.delete(call);
    if (this.connection.readingPaused && this.calls.size < this.options.maxConcurrentCalls) this.connection.resumeReading();
    if (this.calls.size === 0 && this.idleWaiters.length > 0) this.wakeIdleWaiters();
  }

  private onRequest(frame: RpcFrame): void {
    const { id, pattern = '' } = frame;
    if (this.calls.has(id)) {
      this.trySend({ id, code: ControlCode.Error, data: { code: ServerErrorCode.DuplicateId, message: `call id ${id} is already in flight` } });
      return;
    }
    const handler = this.options.resolveHandler(pattern);
    if (handler === undefined) {
      this.trySend({ id, code: ControlCode.Error, data: { code: ServerErrorCode.NoHandler, message: `no handler for pattern ${pattern}` } });
      return;
    }
    const timeoutMs = frame.timeoutMs;
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const call = new ServerCall(id, new CallContext(id, pattern, frame.meta, deadline, this.peer), this);
    call.run(handler, frame.data);
    // A handler that answered synchronously is done already: no frame can have arrived for it
    // meanwhile, so it never needs to be found by id, counted, or timed.
    if (call.done) return;
    this.calls.set(id, call);
    if (this.calls.size >= this.options.maxConcurrentCalls) this.connection.pauseReading();
    if (timeoutMs !== undefined) call.armDeadline(timeoutMs, () => new DeadlineExceededError(timeoutMs));
  }

  private onEvent(frame: RpcFrame): void {
    const pattern = frame.pattern ?? '';
    const handler = this.options.resolveEventHandler(pattern);
    if (handler === undefined) {
      this.options.reportError(new ProtocolError(`no event handler for pattern ${pattern}`));
      return;
    }
    try {
      const result = handler(frame.data, new CallContext(0, pattern, frame.meta, undefined, this.peer));
      if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, this.options.reportError);
      }
    } catch (err) {
      this.options.reportError(err);
    }
  }

  /** Gives each waiting push source its turn while there is room; the rest wait for the next drain. */
  private onDrain(): void {
    const waiting = [...this.waitingForRoom];
    this.waitingForRoom.clear();
    for (const call of waiting) {
      if (this.connection.writable) call.onWritable();
      else this.waitWritable(call);
    }
  }

  private trySend(frame: RpcFrame): void {
    try {
      this.send(frame);
    } catch (err) {
      this.connection.destroy(err as Error);
    }
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

function noop(): void {}
