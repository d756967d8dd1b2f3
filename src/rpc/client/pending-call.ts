import type { CallHandle, CallObserver } from './call.js';

/** Where a pending call's cancel goes: the session that carries it. */
export interface CallCanceller {
  cancel(call: PendingCall): void;
}

/**
 * A call in flight on a session: everything needed to settle it exactly once. The session
 * owns the id's slot until it settles; the timer and abort listener are detached on settle.
 */
export class PendingCall implements CallHandle {
  timer: NodeJS.Timeout | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  /** protosocket-rpc profile: a unary call, settled by its first Normal. Never set natively. */
  unary = false;

  constructor(
    readonly id: number,
    readonly observer: CallObserver,
    private readonly session: CallCanceller,
  ) {}

  cancel(): void {
    this.session.cancel(this);
  }

  unsubscribe(): void {
    this.session.cancel(this);
  }

  /** Detaches timers and listeners; the caller then notifies the observer. */
  release(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onAbort !== undefined) this.signal?.removeEventListener('abort', this.onAbort);
  }
}
