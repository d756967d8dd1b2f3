import type { CallObserver } from './call.js';

/** Lets a stream consumer stop the connection's reads while it is behind (TCP then pushes back on the server). */
export interface ReadThrottle {
  congest(): void;
  relieve(): void;
}

/**
 * Adapts a call's push-style results to an AsyncIterableIterator. Items that arrive before
 * the consumer asks are buffered; past `highWaterMark` of them the connection stops reading,
 * and it reads again once the consumer has taken the buffer down to half of that. Leaving
 * the loop early (`return`) cancels the call.
 */
export class CallStream<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private head = 0;
  private done = false;
  private failure: Error | undefined;
  private waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void } | undefined;
  private congested = false;
  /** Cancels the call; set once the call has started. */
  cancel: () => void = () => {};
  /** Where the call delivers its results. */
  readonly observer: CallObserver<T> = {
    next: (value) => this.push(value),
    error: (err) => this.fail(err),
    complete: () => this.finish(),
  };

  /** The session carrying the call; set when the call starts. */
  throttle: ReadThrottle | undefined = undefined;

  constructor(private readonly highWaterMark: number) {}

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
      waiting.resolve({ value, done: false });
      return;
    }
    this.buffer.push(value);
    if (!this.congested && this.buffered >= this.highWaterMark && this.throttle !== undefined) {
      this.congested = true;
      this.throttle.congest();
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
    this.throttle?.relieve();
  }
}
