import { InvalidOptionError } from '../../core/errors.js';
import { CancelledError, RemoteError } from '../errors.js';
import { Backoff } from './backoff.js';
import type { CallHandle, CallObserver, CallOptions, RetryPolicy } from './call.js';

/**
 * Failures after which an idempotent call may be sent again: the connection or the server
 * went away, possibly after a handler started. Never an answer of the handler's own, a
 * deadline, a cancel, or a local refusal (queue full, encode error).
 */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'ERR_CONNECTION_CLOSED',
  'ERR_CONNECT_TIMEOUT',
  'ERR_NO_READY_ENDPOINT',
  'ERR_PEER_UNRESPONSIVE',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/** Error bodies a server sends when it, not the handler, gave up on the call. */
const RETRYABLE_REMOTE_CODES: ReadonlySet<string> = new Set(['ERR_SHUTTING_DOWN', 'ERR_REFUSED']);

const RETRY_BACKOFF = { initialDelayMs: 50, maxDelayMs: 1000 };

export function isRetryable(err: Error): boolean {
  if (err instanceof RemoteError) return RETRYABLE_REMOTE_CODES.has(err.remoteCode ?? '');
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && RETRYABLE_CODES.has(code);
}

/** Why `policy` cannot be followed, or undefined. */
export function invalidRetryPolicy(policy: RetryPolicy): InvalidOptionError | undefined {
  const attempts: unknown = policy.attempts;
  if (typeof attempts === 'number' && Number.isInteger(attempts) && attempts >= 1) return undefined;
  return new InvalidOptionError('retry.attempts', `retry.attempts must be an integer of at least 1, got ${String(attempts)}`);
}

/** Starts one attempt of the call with `options` (its budget, no retry policy), results to the given observer. */
export type AttemptStarter = (observer: CallObserver, options: CallOptions) => CallHandle;

/**
 * A call with a retry policy (`retry` in its options): each attempt is an ordinary call; a
 * retryable failure before any result arrived starts the next one after a backoff delay,
 * with what is left of the call's budget, until the attempts run out or the budget would
 * run out during the delay (the failure is then the call's). Cancelling stops it wherever it is.
 */
export class RetryingCall implements CallHandle, CallObserver {
  private readonly policy: RetryPolicy;
  private readonly backoff: Backoff;
  private readonly budgetMs: number;
  private readonly deadline: number;
  private current: CallHandle | undefined = undefined;
  private attempts = 0;
  private delivered = false;
  private done = false;
  private cancelled = false;
  private timer: NodeJS.Timeout | undefined = undefined;
  private onAbort: (() => void) | undefined = undefined;

  constructor(
    private readonly startAttempt: AttemptStarter,
    private readonly observer: CallObserver,
    private readonly options: CallOptions,
    defaultTimeoutMs: number,
  ) {
    this.policy = options.retry as RetryPolicy;
    this.backoff = new Backoff({ ...RETRY_BACKOFF, ...this.policy.backoff });
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    this.budgetMs = timeoutMs > 0 ? timeoutMs : 0;
    this.deadline = this.budgetMs > 0 ? performance.now() + this.budgetMs : 0;
    this.attempt(this.budgetMs);
  }

  next(value: unknown): void {
    if (this.done) return;
    this.delivered = true;
    this.observer.next(value);
  }

  complete(): void {
    if (this.done) return;
    this.done = true;
    this.observer.complete();
  }

  error(err: Error): void {
    if (this.done) return;
    if (!this.cancelled && !this.delivered && this.attempts < this.policy.attempts && isRetryable(err) && this.scheduleRetry()) return;
    this.done = true;
    this.observer.error(err);
  }

  cancel(): void {
    if (this.done || this.cancelled) return;
    this.cancelled = true;
    if (this.timer === undefined) {
      this.current?.cancel();
      return;
    }
    this.stopWaiting();
    this.done = true;
    this.observer.error(new CancelledError('call cancelled'));
  }

  unsubscribe(): void {
    this.cancel();
  }

  private attempt(timeoutMs: number): void {
    this.attempts++;
    this.current = undefined;
    this.current = this.startAttempt(this, { ...this.options, timeoutMs, retry: undefined });
  }

  /** Waits a backoff delay, then starts the next attempt; false if the budget would run out first. */
  private scheduleRetry(): boolean {
    const delayMs = this.backoff.next();
    if (this.deadline !== 0 && this.deadline - performance.now() - delayMs < 1) return false;
    this.timer = setTimeout(() => {
      this.stopWaiting();
      this.attempt(this.deadline === 0 ? 0 : Math.max(1, Math.floor(this.deadline - performance.now())));
    }, delayMs);
    const signal = this.options.signal;
    if (signal !== undefined) {
      this.onAbort = () => {
        this.stopWaiting();
        this.done = true;
        this.observer.error(new CancelledError('call aborted', { cause: signal.reason }));
      };
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
    return true;
  }

  private stopWaiting(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.onAbort !== undefined) this.options.signal?.removeEventListener('abort', this.onAbort);
    this.onAbort = undefined;
  }
}
