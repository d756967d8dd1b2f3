import type { CallHandle, CallObserver } from './call.js';

/** The session that carries a pending call: where its cancel, abort, deadline and credit go. */
export interface CallCanceller {
  cancel(call: PendingCall): void;
  /** The call's AbortSignal fired. */
  aborted(call: PendingCall): void;
  /** The call's time budget ran out. */
  expired(call: PendingCall, timeoutMs: number): void;
  /** Sends a Credit frame for `call` (wire/flow-control.ts). */
  grant(call: PendingCall, items: number): void;
  /** The memory safety net: stop reading the connection while a stream's buffer is past its mark. */
  congest(): void;
  relieve(): void;
}

/**
 * What a consumer that reads at its own pace (a stream) drives: its call's credit, granted as
 * it takes items, and the connection's reads, stopped only as a safety net.
 */
export interface StreamFlow {
  grant(items: number): void;
  congest(): void;
  relieve(): void;
}

/** A consumer that reads at its own pace (a stream): told its call's flow when the call starts, it grants credit as it reads. */
export interface PacedConsumer {
  started(flow: StreamFlow): void;
}

/**
 * A call in flight on a session: everything needed to settle it exactly once. The session
 * owns the id's slot until it settles; the timer and abort listener are detached on settle.
 *
 * It is its own abort listener (`handleEvent`) and its timer calls back with arguments, so a
 * call with a signal and a deadline allocates no closure for either.
 *
 * Credit: a paced consumer (a stream) grants through `StreamFlow` as it reads; for any other
 * observer (a push observer, `call()`, Nest's send) the session grants as items arrive,
 * counting in `ungranted`, so such a call is never throttled.
 */
export class PendingCall implements CallHandle, StreamFlow {
  timer: NodeJS.Timeout | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  /** protosocket-rpc profile: a unary call, settled by its first Normal. Never set natively. */
  unary = false;
  /** Set by the session when the call settles (`release`): a later cancel is a no-op without a lookup. */
  settled = false;
  /** Items received and not yet granted back (observers that are not paced). */
  ungranted = 0;

  constructor(
    readonly id: number,
    readonly observer: CallObserver,
    private readonly session: CallCanceller,
    /** The consumer grants credit itself as it reads. */
    readonly paced = false,
  ) {}

  /** Arms the deadline: at `timeoutMs` the session abandons the call with ERR_DEADLINE_EXCEEDED. */
  armDeadline(timeoutMs: number): void {
    this.timer = setTimeout(expire, timeoutMs, this.session, this, timeoutMs);
  }

  /** Listens to `signal`: aborting it abandons the call with ERR_CANCELLED. */
  listen(signal: AbortSignal): void {
    this.signal = signal;
    signal.addEventListener('abort', this, ONCE);
  }

  /** The abort listener (EventTarget calls `handleEvent` on listener objects). */
  handleEvent(): void {
    this.session.aborted(this);
  }

  // Observers call these as teardown after every completion too (rxjs does), so a settled call costs a field check.
  cancel(): void {
    if (!this.settled) this.session.cancel(this);
  }

  unsubscribe(): void {
    if (!this.settled) this.session.cancel(this);
  }

  grant(items: number): void {
    if (!this.settled) this.session.grant(this, items);
  }

  congest(): void {
    this.session.congest();
  }

  relieve(): void {
    this.session.relieve();
  }

  /** Marks the call settled and detaches its timer and listener; the caller then notifies the observer. */
  release(): void {
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.signal !== undefined) this.signal.removeEventListener('abort', this);
  }
}

const ONCE = { once: true } as const;

function expire(session: CallCanceller, call: PendingCall, timeoutMs: number): void {
  session.expired(call, timeoutMs);
}
