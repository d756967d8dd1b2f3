import { EncodeError, FrameTooLargeError } from '../../core/errors.js';
import type { CallContext } from './call-context.js';
import { ControlCode } from '../wire/control-code.js';
import { SlowConsumerError } from '../errors.js';
import type { RpcFrame } from '../wire/frame.js';
import { isAsyncIterable, isSubscribable, isThenable, type Subscribable, type Unsubscribable } from './handler.js';

/** What a call needs from its connection's session. */
export interface CallHost {
  readonly writable: boolean;
  send(frame: RpcFrame): void;
  /** Calls `call.onWritable()` once the connection has room again. */
  waitWritable(call: ServerCall): void;
  waitForDrain(): Promise<void>;
  serializeError(err: unknown): unknown;
  maxBufferedItems: number;
  finished(call: ServerCall): void;
}

/**
 * One request being served: runs the handler's result to its end and sends the frames for
 * it, exactly one terminal frame (Reply, End or Error) unless the call was cancelled or its
 * connection lost, in which case nothing more is sent.
 *
 *   handler result ──value / Promise──────────────> Reply
 *                  ──AsyncIterable (pulled)───────> Normal* End
 *                  ──Subscribable (pushed)────────> Reply | Normal* (Reply|End) | Error
 *                  ──throw / reject / error───────> Error
 *   Cancel frame / connection loss ───────────────> abort: stop producer, send nothing
 *   deadline ─────────────────────────────────────> abort: stop producer, Error
 */
export class ServerCall {
  /** Settled: replied, failed, cancelled or aborted. Nothing more is sent. */
  private isDone = false;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private stopProducer: (() => void) | undefined;
  // Push sources: items waiting for room, and how the source ended if it ended meanwhile.
  private pending: unknown[] | undefined;
  private ended: { error: unknown } | 'complete' | undefined;
  // Push sources: the latest item, held back until we know whether it is the last one.
  private held: unknown;
  private holding = false;
  private releaseScheduled = false;

  constructor(
    readonly id: number,
    readonly context: CallContext,
    private readonly host: CallHost,
  ) {}

  get done(): boolean {
    return this.isDone;
  }

  /** Runs at the deadline: the producer stops and the client gets ERR_DEADLINE_EXCEEDED. */
  armDeadline(timeoutMs: number, onExpiry: () => Error): void {
    this.deadlineTimer = setTimeout(() => {
      const reason = onExpiry();
      this.fail(reason);
      this.abort(reason);
    }, timeoutMs);
  }

  run(handler: (data: unknown, context: CallContext) => unknown, data: unknown): void {
    let result: unknown;
    try {
      result = handler(data, this.context);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => this.respond(value),
        (err: unknown) => this.fail(err),
      );
    } else {
      this.respond(result);
    }
  }

  /** Ends the call without another frame: the producer is stopped and the signal aborted. */
  abort(reason: Error): void {
    this.settle();
    this.context.abort(reason);
  }

  /** The connection has room again: send what a push source buffered. */
  onWritable(): void {
    const pending = this.pending;
    if (this.isDone || pending === undefined) return;
    let sent = 0;
    while (sent < pending.length && this.host.writable) this.sendFrame(ControlCode.Normal, pending[sent++]);
    pending.splice(0, sent);
    if (pending.length > 0) {
      this.host.waitWritable(this);
      return;
    }
    const ended = this.ended;
    if (ended === 'complete') this.finish(ControlCode.End, undefined);
    else if (ended !== undefined) this.fail(ended.error);
  }

  private respond(result: unknown): void {
    if (this.isDone) {
      discard(result);
      return;
    }
    if (isSubscribable(result)) this.subscribe(result);
    else if (isAsyncIterable(result) && !(result instanceof Uint8Array)) void this.pull(result);
    else this.finish(ControlCode.Reply, result);
  }

  private subscribe(source: Subscribable): void {
    let subscription: Unsubscribable | undefined;
    let stopped = false;
    this.stopProducer = () => {
      stopped = true;
      subscription?.unsubscribe();
    };
    subscription = source.subscribe({
      next: (value) => this.pushed(value),
      error: (err) => this.pushEnded({ error: err }),
      complete: () => this.pushEnded('complete'),
    });
    // The source may have ended, or been stopped, before `subscribe` returned.
    if (stopped) subscription.unsubscribe();
  }

  private pushed(value: unknown): void {
    if (this.isDone) return;
    if (this.holding) this.release(this.held);
    this.held = value;
    this.holding = true;
    if (!this.releaseScheduled) {
      this.releaseScheduled = true;
      process.nextTick(releaseHeld, this);
    }
  }

  /** Sends the held item as a stream item (a later item or the end of the tick showed it is not the last). */
  releaseHeld(): void {
    this.releaseScheduled = false;
    if (!this.holding || this.isDone) return;
    const value = this.held;
    this.holding = false;
    this.held = undefined;
    this.release(value);
  }

  private release(value: unknown): void {
    this.holding = false;
    this.held = undefined;
    const pending = this.pending;
    if ((pending === undefined || pending.length === 0) && this.host.writable) {
      this.sendFrame(ControlCode.Normal, value);
      return;
    }
    if (pending === undefined) this.pending = [value];
    else pending.push(value);
    if ((this.pending as unknown[]).length > this.host.maxBufferedItems) {
      this.fail(new SlowConsumerError(this.host.maxBufferedItems));
      return;
    }
    if ((this.pending as unknown[]).length === 1) this.host.waitWritable(this);
  }

  private pushEnded(how: { error: unknown } | 'complete'): void {
    if (this.isDone) return;
    this.stopProducer = undefined;
    const backlog = this.pending !== undefined && this.pending.length > 0;
    if (how === 'complete' && this.holding && !backlog) {
      const value = this.held;
      this.holding = false;
      this.held = undefined;
      // An Observable whose one value is an AsyncIterable (what Nest's interceptors make of a
      // handler returning one) streams that iterable.
      if (isAsyncIterable(value) && !(value instanceof Uint8Array)) void this.pull(value);
      // One item then completion: a unary reply, one frame.
      else this.finish(ControlCode.Reply, value);
      return;
    }
    if (this.holding) this.release(this.held);
    if (this.isDone) return;
    if (this.pending !== undefined && this.pending.length > 0) {
      this.ended = how;
      return;
    }
    if (how === 'complete') this.finish(ControlCode.End, undefined);
    else this.fail(how.error);
  }

  /** Pulls an AsyncIterable only while the connection has room: connection-driven backpressure. */
  private async pull(source: AsyncIterable<unknown>): Promise<void> {
    const iterator = source[Symbol.asyncIterator]();
    this.stopProducer = () => void iterator.return?.()?.then(undefined, () => {});
    try {
      for (;;) {
        if (!this.host.writable) await this.host.waitForDrain();
        if (this.isDone) return;
        const step = await iterator.next();
        if (this.isDone) return;
        if (step.done === true) {
          this.stopProducer = undefined;
          this.finish(ControlCode.End, undefined);
          return;
        }
        this.sendFrame(ControlCode.Normal, step.value);
      }
    } catch (err) {
      if (this.isDone) return;
      this.stopProducer = undefined;
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    if (this.isDone) return;
    this.finish(ControlCode.Error, this.host.serializeError(err));
  }

  private finish(code: ControlCode, data: unknown): void {
    if (this.isDone) return;
    this.settle();
    this.sendFrame(code, data);
  }

  private settle(): void {
    if (this.isDone) return;
    this.isDone = true;
    clearTimeout(this.deadlineTimer);
    this.pending = undefined;
    this.holding = false;
    this.held = undefined;
    const stop = this.stopProducer;
    this.stopProducer = undefined;
    stop?.();
    this.host.finished(this);
  }

  /**
   * Sends one frame of this call. A value the codec cannot encode (or too large) becomes an
   * Error frame instead, so the client is never left waiting. An error body that cannot be
   * encoded either is replaced by the encoding error's code and message, which always can be:
   * this runs inside a reactor or a promise handler, where a throw would take down the
   * connection or surface as an unhandled rejection.
   */
  private sendFrame(code: ControlCode, data: unknown): void {
    try {
      this.host.send({ id: this.id, code, data });
    } catch (err) {
      if (!(err instanceof EncodeError || err instanceof FrameTooLargeError)) throw err;
      if (!this.isDone) this.settle();
      const body = code === ControlCode.Error ? { name: err.name, code: err.code, message: err.message } : this.host.serializeError(err);
      this.host.send({ id: this.id, code: ControlCode.Error, data: body });
    }
  }
}

function releaseHeld(call: ServerCall): void {
  call.releaseHeld();
}

/** A result that arrived after its call was cancelled: make sure its producer does not run on. */
function discard(result: unknown): void {
  if (isAsyncIterable(result)) void result[Symbol.asyncIterator]().return?.()?.then(undefined, () => {});
}
