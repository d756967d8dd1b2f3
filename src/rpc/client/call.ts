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
  /**
   * protosocket-rpc profile: the call is streaming (Normal* End) rather than unary (settled by
   * the first Normal), as the caller decides in protosocket-rpc. `stream()` sets it. The
   * native protocol ignores it: there the server's frames tell.
   */
  stream?: boolean;
}

/**
 * A started call. `cancel()` sends Cancel and fails the call with ERR_CANCELLED, unless it
 * already settled. `unsubscribe()` is the same, so a handle is an rxjs teardown as it is.
 */
export interface CallHandle {
  cancel(): void;
  unsubscribe(): void;
}

/** The handle of a call that settled as it started (refused, or failed to send): nothing to cancel. */
export const SETTLED_HANDLE: CallHandle = { cancel() {}, unsubscribe() {} };
