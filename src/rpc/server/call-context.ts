import type { Metadata } from '../wire/frame.js';

/** Where a call or event came from. */
export interface PeerInfo {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

// Assigned by CallContext's static block: the only code that can abort a context's signal.
let abortContext: (context: CallContext, reason: Error) => void;

/**
 * What a handler knows about its call. `signal` aborts when the client cancels, when the
 * deadline passes, when the server shuts down, or when the connection drops; `signal.reason`
 * tells which (an error with code ERR_CANCELLED, ERR_DEADLINE_EXCEEDED, ERR_SHUTTING_DOWN or
 * ERR_CONNECTION_CLOSED).
 *
 * Read-only for the handler: only the call that owns a context can abort it (through
 * `abortCallContext`, which the package does not export).
 */
export class CallContext {
  #controller: AbortController | undefined;
  #abortReason: Error | undefined;

  static {
    abortContext = (context, reason) => {
      if (context.#abortReason !== undefined) return;
      context.#abortReason = reason;
      context.#controller?.abort(reason);
    };
  }

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
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#abortReason !== undefined;
  }

  /** Milliseconds left before the deadline (Infinity without one). */
  remainingMs(): number {
    return this.deadline === undefined ? Infinity : Math.max(0, this.deadline - Date.now());
  }
}

/** Aborts the context's signal with `reason`, once. For the server's call only: not exported from the package. */
export function abortCallContext(context: CallContext, reason: Error): void {
  abortContext(context, reason);
}
