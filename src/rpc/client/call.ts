import type { Metadata } from '../wire/frame.js';

/** Receives a call's results: any number of `next`, then exactly one `complete` or `error`. */
export interface CallObserver<T = unknown> {
  next(value: T): void;
  error(err: Error): void;
  complete(): void;
}

export interface CallOptions {
  /** Aborting sends Cancel for the call and fails it with `ERR_CANCELLED`. */
  signal?: AbortSignal;
  /** Time budget in ms; overrides the client's default. The server learns the remaining budget. 0 means none. */
  timeoutMs?: number;
  /** String metadata for the server (Nest's packet metadata). */
  meta?: Metadata;
}
