import { SlowConsumerError } from '../errors.js';
import { ControlCode } from '../wire/control-code.js';
import { MAX_CREDIT, STREAM_WINDOW } from '../wire/flow-control.js';
import type { RpcFrame } from '../wire/frame.js';
import { type ErrorFrameSink, isEncodeFailure, sendError } from './error-body.js';
import { payloadSize } from './payload-size.js';

/** The connection side of every writer of a session; the session makes one and hands it to each call. */
export interface CallOutput extends ErrorFrameSink {
  /** Queues a frame; returns whether the connection still has room (as `Connection.send`): false once it has not, or is not open. */
  send(frame: RpcFrame): boolean;
  /** The connection is open and under its high-water mark. */
  readonly writable: boolean;
  /** Calls `writer.onWritable()` once the connection has room again. */
  waitWritable(writer: CallWriter): void;
  /** `writer` waits no longer (it closed). */
  stopWaiting(writer: CallWriter): void;
  /** Items one call may queue (no room, or no credit); past it the call fails with ERR_SLOW_CONSUMER. */
  readonly maxBufferedItems: number;
  /** A pushed stream of one item is answered as one Reply (native); under protosocket-rpc it stays a stream. */
  readonly foldsSingleItemStreams: boolean;
  /** Approximate payload bytes (payload-size.ts) one call may queue; past it the call fails with ERR_SLOW_CONSUMER. */
  readonly maxBufferedBytes: number;
  /** Streamed items wait for the client's credit (native). Under protosocket-rpc there is none: only the connection's room. */
  readonly flowControlled: boolean;
}

/**
 * Writes the frames of one call, and alone knows whether they may go out: the connection must
 * have room, and a stream item also needs the call's credit (wire/flow-control.ts), which the
 * client grants as its consumer reads.
 *
 *   item(v) ──room, credit and nothing queued──> Normal (credit - 1)
 *           └─otherwise──> queue (bounded: past maxBufferedItems or maxBufferedBytes, failNow(ERR_SLOW_CONSUMER))
 *   reply(v) | end() | fail(e) ──nothing queued──> Reply | End | Error, closed (no credit needed)
 *                              └─items queued──> held until the queue has drained, then sent
 *   failNow(e) ──> Error at once, the queue dropped, closed      (deadline, shutdown, slow consumer)
 *   close()    ──> closed without a frame                        (cancel, connection loss)
 *   drain ──> onWritable() ─┐
 *   Credit ─> grant(n) ─────┴─> pump(): the queue while there is room and credit, then the held
 *                               terminal frame, then whoever waits in whenWritable()
 *
 * Invariants: at most one terminal frame (Reply, End or Error), and nothing at all once closed;
 * never more Normal items than the credit granted. A frame that cannot be encoded (EncodeError,
 * FrameTooLargeError) closes the call with an Error frame instead (see `sendError`), so the
 * client is never left waiting.
 *
 * A base class rather than a field of the call so a call stays one allocation: ServerCall
 * (call.ts) extends it with the call's lifecycle and is told through `onClosed`.
 */
export abstract class CallWriter {
  private closed = false;
  /** Items waiting for room or credit, oldest first from `queueHead`; created when the first has to wait. */
  private queue: unknown[] | undefined;
  /** `payloadSize` of each item of `queue`, at the same index; the waiting ones' sum is `queuedBytes`. */
  private queueSizes: number[] | undefined;
  /** Index of the oldest waiting item: sent items are skipped, and the arrays compacted, rather than shifted one by one. */
  private queueHead = 0;
  private queuedBytes = 0;
  /** Normal items the client allows before its next grant; unbounded without flow control (protosocket-rpc). */
  private credit: number;
  /** The terminal frame asked for while items were queued: sent once they are. */
  private heldTerminal: ControlCode | undefined;
  private heldTerminalData: unknown;
  /** Registered with the output for the next drain. */
  private waitingForRoom = false;
  /** The `whenWritable` of a pulled source waiting for room or credit. */
  private wakeProducer: (() => void) | undefined;

  protected constructor(
    readonly id: number,
    private readonly out: CallOutput,
  ) {
    this.credit = out.flowControlled ? STREAM_WINDOW : Infinity;
  }

  /** Closed: a terminal frame went out, or the call was cancelled or lost. Nothing more is sent. */
  get done(): boolean {
    return this.closed;
  }

  /** An item sent now would go straight out: the connection has room, the call has credit, and nothing of it is queued. */
  get writable(): boolean {
    return this.out.writable && this.credit > 0 && !this.backlogged;
  }

  /** A pushed stream of one item may be sent as one Reply (the connection's profile decides). */
  get foldsSingleItemStreams(): boolean {
    return this.out.foldsSingleItemStreams;
  }

  /** Items of this call are queued waiting for room or credit. */
  get backlogged(): boolean {
    return this.queue !== undefined && this.queue.length > this.queueHead;
  }

  /** Resolves once `writable` (or closed): how a pulled source waits for room and credit. One waiter at a time. */
  whenWritable(): Promise<void> {
    if (this.closed || this.writable) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeProducer = resolve;
      if (!this.out.writable) this.waitForRoom();
    });
  }

  /**
   * A stream item: sent now if there is room and credit, else queued. Returns whether the next
   * item would go straight out too (what `writable` would say now, the room taken from the
   * send's own count; false may be conservative): a pulled source reads it instead of asking
   * `writable` before every item.
   */
  item(value: unknown): boolean {
    if (this.closed || this.heldTerminal !== undefined) return false;
    let queue = this.queue;
    if ((queue === undefined || queue.length === this.queueHead) && this.credit > 0 && this.out.writable) {
      this.credit--;
      return this.write(ControlCode.Normal, value) && this.credit > 0;
    }
    if (queue === undefined) queue = this.queue = [];
    const sizes = (this.queueSizes ??= []);
    const size = payloadSize(value);
    queue.push(value);
    sizes.push(size);
    this.queuedBytes += size;
    if (queue.length - this.queueHead > this.out.maxBufferedItems) {
      this.failNow(new SlowConsumerError(this.out.maxBufferedItems, 'items'));
      return false;
    }
    if (this.queuedBytes > this.out.maxBufferedBytes) {
      this.failNow(new SlowConsumerError(this.out.maxBufferedBytes, 'bytes'));
      return false;
    }
    // Already registered for the next drain: the connection's room need not be asked again for every queued item.
    if (!this.waitingForRoom && !this.out.writable) this.waitForRoom();
    return false;
  }

  /** The client granted `items` more credit (a Credit frame): what waited for it goes out. */
  grant(items: number): void {
    if (this.closed) return;
    const before = this.credit;
    this.credit = Math.min(MAX_CREDIT, before + items);
    if (before === 0) this.pump();
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
    this.pump();
  }

  /** Closes without a frame: the queue is dropped and a waiting pulled source woken to see `done`. Idempotent. */
  protected close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = undefined;
    this.queueSizes = undefined;
    this.queueHead = 0;
    this.queuedBytes = 0;
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

  /**
   * Sends what waits, as far as room and credit allow: the queue, then the held terminal frame,
   * then wakes a waiting pulled source. Stopped by the connection (waits for a drain) or by
   * credit (waits for `grant`).
   */
  private pump(): void {
    if (this.closed) return;
    const queue = this.queue;
    if (queue !== undefined && queue.length > this.queueHead) {
      const sizes = this.queueSizes as number[];
      let head = this.queueHead;
      // The room after each item is what its send reported (write's answer), so the connection's
      // writability is asked only when that says none: a "no room" that is conservative (the
      // flush inside the send was taken by the kernel at once) is checked before the pump stops.
      let room = false;
      while (head < queue.length && this.credit > 0 && (room || (room = this.out.writable))) {
        const value = queue[head];
        this.queuedBytes -= sizes[head] as number;
        queue[head++] = undefined;
        this.credit--;
        room = this.write(ControlCode.Normal, value);
        if (this.closed) return;
      }
      if (head === queue.length) {
        queue.length = 0;
        sizes.length = 0;
        head = 0;
      } else if (head > queue.length >>> 1) {
        queue.splice(0, head);
        sizes.splice(0, head);
        head = 0;
      }
      this.queueHead = head;
      if (queue.length > 0) {
        if (!this.out.writable) this.waitForRoom();
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
    if (this.wakeProducer === undefined) return;
    if (!this.writable) {
      // Woken by a drain while out of credit (or the reverse): keep waiting for what is missing.
      if (!this.out.writable) this.waitForRoom();
      return;
    }
    const wake = this.wakeProducer;
    this.wakeProducer = undefined;
    wake();
  }

  private waitForRoom(): void {
    if (this.waitingForRoom) return;
    this.waitingForRoom = true;
    this.out.waitWritable(this);
  }

  /** Sends one frame; returns whether the connection still has room (false once this writer closed on an encode failure). */
  private write(code: ControlCode, data: unknown): boolean {
    try {
      return this.out.send({ id: this.id, code, data });
    } catch (err) {
      if (!isEncodeFailure(err)) throw err;
      this.close();
      sendError(this.out, this.id, err);
      return false;
    }
  }
}
