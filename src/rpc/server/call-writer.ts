import { SlowConsumerError } from '../errors.js';
import { ControlCode } from '../wire/control-code.js';
import { type ErrorFrameSink, isEncodeFailure, sendError } from './error-body.js';

/** The connection side of every writer of a session; the session makes one and hands it to each call. */
export interface CallOutput extends ErrorFrameSink {
  /** The connection is open and under its high-water mark. */
  readonly writable: boolean;
  /** Calls `writer.onWritable()` once the connection has room again. */
  waitWritable(writer: CallWriter): void;
  /** `writer` waits no longer (it closed). */
  stopWaiting(writer: CallWriter): void;
  /** Items one call may queue while the connection has no room; past it the call fails with ERR_SLOW_CONSUMER. */
  readonly maxBufferedItems: number;
  /** A pushed stream of one item is answered as one Reply (native, and when absent); under protosocket-rpc it stays a stream. */
  readonly foldsSingleItemStreams?: boolean;
}

/**
 * Writes the frames of one call, and alone knows whether the connection has room for them.
 *
 *   item(v) ──room and nothing queued──> Normal
 *           └─otherwise──> queue (bounded: one past maxBufferedItems is failNow(ERR_SLOW_CONSUMER))
 *   reply(v) | end() | fail(e) ──nothing queued──> Reply | End | Error, closed
 *                              └─items queued──> held until the queue has drained, then sent
 *   failNow(e) ──> Error at once, the queue dropped, closed      (deadline, shutdown, slow consumer)
 *   close()    ──> closed without a frame                        (cancel, connection loss)
 *   drain ──> onWritable(): the queue while there is room, then the held terminal frame,
 *             then whoever waits in whenWritable()
 *
 * Invariants: at most one terminal frame (Reply, End or Error), and nothing at all once closed.
 * A frame that cannot be encoded (EncodeError, FrameTooLargeError) closes the call with an
 * Error frame instead (see `sendError`), so the client is never left waiting.
 *
 * A base class rather than a field of the call so a call stays one allocation: ServerCall
 * (call.ts) extends it with the call's lifecycle and is told through `onClosed`.
 */
export abstract class CallWriter {
  private closed = false;
  /** Items waiting for room, oldest first; created when the first has to wait. */
  private queue: unknown[] | undefined;
  /** The terminal frame asked for while items were queued: sent once they are. */
  private heldTerminal: ControlCode | undefined;
  private heldTerminalData: unknown;
  /** Registered with the output for the next drain. */
  private waitingForRoom = false;
  /** The `whenWritable` of a pulled source waiting for room. */
  private wakeProducer: (() => void) | undefined;

  protected constructor(
    readonly id: number,
    private readonly out: CallOutput,
  ) {}

  /** Closed: a terminal frame went out, or the call was cancelled or lost. Nothing more is sent. */
  get done(): boolean {
    return this.closed;
  }

  /** An item sent now would go straight out: the connection has room and nothing of this call is queued. */
  get writable(): boolean {
    return this.out.writable && !this.backlogged;
  }

  /** A pushed stream of one item may be sent as one Reply (the connection's profile decides). */
  get foldsSingleItemStreams(): boolean {
    return this.out.foldsSingleItemStreams !== false;
  }

  /** Items of this call are queued waiting for room. */
  get backlogged(): boolean {
    return this.queue !== undefined && this.queue.length > 0;
  }

  /** Resolves once `writable` (or closed): how a pulled source waits for room. One waiter at a time. */
  whenWritable(): Promise<void> {
    if (this.closed || this.writable) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeProducer = resolve;
      this.waitForRoom();
    });
  }

  /** A stream item: sent now if there is room, else queued. */
  item(value: unknown): void {
    if (this.closed || this.heldTerminal !== undefined) return;
    let queue = this.queue;
    if ((queue === undefined || queue.length === 0) && this.out.writable) {
      this.write(ControlCode.Normal, value);
      return;
    }
    if (queue === undefined) queue = this.queue = [];
    queue.push(value);
    if (queue.length > this.out.maxBufferedItems) {
      this.failNow(new SlowConsumerError(this.out.maxBufferedItems));
      return;
    }
    this.waitForRoom();
  }

  /** The one answer of a unary call (or the last item of a stream, as one frame). */
  reply(value: unknown): void {
    this.finish(ControlCode.Reply, value);
  }

  /** The end of a stream, after its queued items. */
  end(): void {
    this.finish(ControlCode.End, undefined);
  }

  /** The call failed; after the queued items, as a stream that errors keeps its order. */
  fail(err: unknown): void {
    this.finish(ControlCode.Error, err);
  }

  /** The server gives up on the call: the Error goes out now and the queued items never do. */
  failNow(err: unknown): void {
    if (this.closed) return;
    this.close();
    sendError(this.out, this.id, err);
  }

  /** The connection has room again (the output calls this after a drain, while it has room). */
  onWritable(): void {
    this.waitingForRoom = false;
    if (this.closed) return;
    const queue = this.queue;
    if (queue !== undefined && queue.length > 0) {
      let sent = 0;
      while (sent < queue.length && this.out.writable) {
        this.write(ControlCode.Normal, queue[sent++]);
        if (this.closed) return;
      }
      queue.splice(0, sent);
      if (queue.length > 0) {
        this.waitForRoom();
        return;
      }
    }
    const terminal = this.heldTerminal;
    if (terminal !== undefined) {
      const data = this.heldTerminalData;
      this.heldTerminal = undefined;
      this.heldTerminalData = undefined;
      this.finish(terminal, data);
      return;
    }
    const wake = this.wakeProducer;
    this.wakeProducer = undefined;
    wake?.();
  }

  /** Closes without a frame: the queue is dropped and a waiting pulled source woken to see `done`. Idempotent. */
  protected close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = undefined;
    this.heldTerminal = undefined;
    this.heldTerminalData = undefined;
    if (this.waitingForRoom) {
      this.waitingForRoom = false;
      this.out.stopWaiting(this);
    }
    const wake = this.wakeProducer;
    this.wakeProducer = undefined;
    wake?.();
    this.onClosed();
  }

  /** Runs once, when the writer closes (before the terminal frame, if any, is queued). */
  protected abstract onClosed(): void;

  private finish(code: ControlCode, data: unknown): void {
    if (this.closed || this.heldTerminal !== undefined) return;
    if (this.backlogged) {
      this.heldTerminal = code;
      this.heldTerminalData = data;
      return;
    }
    this.close();
    if (code === ControlCode.Error) sendError(this.out, this.id, data);
    else this.write(code, data);
  }

  private waitForRoom(): void {
    if (this.waitingForRoom) return;
    this.waitingForRoom = true;
    this.out.waitWritable(this);
  }

  private write(code: ControlCode, data: unknown): void {
    try {
      this.out.send({ id: this.id, code, data });
    } catch (err) {
      if (!isEncodeFailure(err)) throw err;
      this.close();
      sendError(this.out, this.id, err);
    }
  }
}
