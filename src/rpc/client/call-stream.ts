import { GRANT_BATCH } from '../wire/flow-control.js';
import type { CallObserver } from './call.js';
import type { PacedConsumer, StreamFlow } from './pending-call.js';

/**
 * Adapts a call's push-style results to an AsyncIterableIterator, and paces the server by
 * credit (wire/flow-control.ts): each item the consumer takes is granted back, in batches of
 * GRANT_BATCH, so the server sends at most its window ahead of the consumer and a stream
 * nobody reads stalls only itself.
 *
 * Items that arrive before the consumer asks are buffered. Past `highWaterMark` of them (a
 * server that ignores credit, or a mark set below the window) the connection stops reading
 * as a memory safety net, and reads again once the consumer has taken the buffer down to half
 * of that. Leaving the loop early (`return`) cancels the call.
 */
export class CallStream<T> implements AsyncIterableIterator<T>, PacedConsumer {
  private readonly buffer: T[] = [];
  private head = 0;
  private done = false;
  private failure: Error | undefined;
  private waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void } | undefined;
  private congested = false;
  /** Items the consumer took and the server was not yet told of. */
  private ungranted = 0;
  /** The call's credit and the connection's reads; set once the call has started. */
  private flow: StreamFlow | undefined = undefined;
  /** Cancels the call; set once the call has started. */
  cancel: () => void = () => {};
  /** Where the call delivers its results. */
  readonly observer: CallObserver<T> = {
    next: (value) => this.push(value),
    error: (err) => this.fail(err),
    complete: () => this.finish(),
  };

  constructor(private readonly highWaterMark: number) {}

  started(flow: StreamFlow): void {
    this.flow = flow;
  }

  next(): Promise<IteratorResult<T>> {
    return this.pull();
  }

  private fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.failure = err;
    this.wake();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.wake();
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.done) {
      this.done = true;
      this.cancel();
    }
    this.buffer.length = 0;
    this.head = 0;
    this.uncongest();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private push(value: T): void {
    if (this.done) return;
    const waiting = this.waiting;
    if (waiting !== undefined) {
      this.waiting = undefined;
      this.taken();
      waiting.resolve({ value, done: false });
      return;
    }
    this.buffer.push(value);
    if (!this.congested && this.buffered >= this.highWaterMark && this.flow !== undefined) {
      this.congested = true;
      this.flow.congest();
    }
  }

  private pull(): Promise<IteratorResult<T>> {
    if (this.buffered > 0) {
      const value = this.buffer[this.head] as T;
      this.buffer[this.head++] = undefined as T;
      if (this.head === this.buffer.length) {
        this.buffer.length = 0;
        this.head = 0;
      }
      if (this.congested && this.buffered <= this.highWaterMark >>> 1) this.uncongest();
      this.taken();
      return Promise.resolve({ value, done: false });
    }
    this.uncongest();
    if (this.done) {
      const failure = this.failure;
      this.failure = undefined;
      return failure === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(failure);
    }
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  /** The consumer took an item: the server may send one more, told in batches. */
  private taken(): void {
    if (++this.ungranted < GRANT_BATCH || this.done) return;
    const items = this.ungranted;
    this.ungranted = 0;
    this.flow?.grant(items);
  }

  private get buffered(): number {
    return this.buffer.length - this.head;
  }

  private wake(): void {
    const waiting = this.waiting;
    if (waiting === undefined) return;
    this.waiting = undefined;
    if (this.failure !== undefined) {
      const failure = this.failure;
      this.failure = undefined;
      waiting.reject(failure);
    } else {
      waiting.resolve({ value: undefined, done: true });
    }
  }

  private uncongest(): void {
    if (!this.congested) return;
    this.congested = false;
    this.flow?.relieve();
  }
}
