import type { Metadata } from '../wire/frame.js';

/** Where a call or event came from. */
export interface PeerInfo {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

/**
 * What a handler knows about its call. `signal` aborts when the client cancels, when the
 * deadline passes, or when the connection drops; `signal.reason` tells which (an error with
 * code ERR_CANCELLED, ERR_DEADLINE_EXCEEDED or ERR_CONNECTION_CLOSED).
 */
export class CallContext {
  private controller: AbortController | undefined;
  private abortReason: Error | undefined;

  constructor(
    /** The call id (0 for an event). */
    readonly id: number,
    readonly pattern: string,
    readonly meta: Metadata | undefined,
    /** Epoch ms by which the client wants an answer, if it set a time budget. */
    readonly deadline: number | undefined,
    readonly peer: PeerInfo,
  ) {}

  /** Created on first use, so calls whose handlers never look at it cost no AbortController. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.abortReason !== undefined;
  }

  /** Milliseconds left before the deadline (Infinity without one). */
  remainingMs(): number {
    return this.deadline === undefined ? Infinity : Math.max(0, this.deadline - Date.now());
  }

  /** @internal Aborts the signal once. */
  abort(reason: Error): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}
