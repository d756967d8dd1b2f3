import type { Metadata } from '../wire/frame.js';
import type { BackoffOptions } from './backoff.js';

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
  /**
   * Calls with the same key go to the same endpoint while it is ready (rendezvous hashing over
   * the ready endpoints: when one goes, only its keys move).
   */
  affinityKey?: string;
  /**
   * With no ready endpoint: true (default) waits for one, through failed attempts until the
   * call's deadline (without a deadline, until every endpoint has failed once, then fails with
   * the last connection error); false fails at once with ERR_NO_READY_ENDPOINT when the client
   * is failing to connect (a first connection attempt is still waited for).
   */
  waitForReady?: boolean;
  /**
   * Retries the call after failures that may have happened after it reached a handler (the
   * connection dropped, the server shut down mid-call): only for idempotent calls. Calls that
   * provably never reached a handler are retried without this. Never after a stream item was
   * received; every attempt within the call's deadline.
   */
  retry?: RetryPolicy;
}

/** How an idempotent call is retried (the `retry` call option). */
export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  attempts: number;
  /** Delays between attempts: 50 ms doubling to 1 s, with jitter, by default. */
  backoff?: BackoffOptions;
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
