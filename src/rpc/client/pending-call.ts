import type { CallHandle, CallObserver, CallOptions } from './call.js';
import { ControlCode } from '../wire/control-code.js';
import type { RpcFrame } from '../wire/frame.js';

/**
 * Who holds a pending call (the session that carries it, or the channel it waits in): where
 * its cancel, abort, deadline and credit go.
 */
export interface CallOwner {
  /** Cancels `call` if this owner still holds it. */
  cancel(call: PendingCall): void;
  /** The call's AbortSignal fired. */
  aborted(call: PendingCall): void;
  /** The call's time budget ran out (`timeoutMs`: the budget this owner armed). */
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
 * One call, from the moment it is made until it settles, whichever session carries it: the
 * handle its caller holds, and everything needed to settle it exactly once or to send it
 * again elsewhere. Its owner is the session it was sent on, or the channel while it waits for
 * a ready session; a call that provably never reached a handler moves to another session
 * (a new id, the remaining budget) and stays the same object, so the caller's handle still
 * cancels it. The timer and abort listener belong to the current owner and are detached when
 * it lets go of the call.
 *
 * It is its own abort listener (`handleEvent`) and its timer calls back with arguments, so a
 * call with a signal and a deadline allocates no closure for either.
 *
 * Credit: a paced consumer (a stream) grants through `StreamFlow` as it reads, to whichever
 * session carries the call; for any other observer (a push observer, `call()`, Nest's send)
 * the session grants as items arrive, counting in `ungranted`, so such a call is never
 * throttled. (A call only moves before any item arrived: there is never credit to carry over.)
 */
export class PendingCall implements CallHandle, StreamFlow {
  /** The id on the current session; 0 while the call waits in the channel. */
  id = 0;
  timer: NodeJS.Timeout | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  /** protosocket-rpc profile: a unary call, settled by its first Normal. Never set natively. */
  unary = false;
  /** The connection's `batchesWritten` when the request was queued: still equal at close, it never left. */
  batch = 0;
  /** Times the call moved to another session without reaching a handler. */
  moves = 0;
  /** Set when its owner lets go of it (`release`), cleared when another takes it: a cancel meanwhile is a no-op without a lookup. */
  settled = false;
  /** The consumer grants credit itself as it reads (set by the session that sends it: only a profile with Credit frames). */
  paced = false;
  /** Items received and not yet granted back (observers that are not paced). */
  ungranted = 0;

  constructor(
    /** The request, sent again on a move with the new id and the remaining budget. */
    readonly frame: RpcFrame,
    public observer: CallObserver,
    readonly options: CallOptions | undefined,
    /** A consumer that reads at its own pace (a stream), told the call's flow once it is sent. */
    readonly consumer: PacedConsumer | undefined,
    /** The whole budget in ms (0: none), for the deadline error. */
    readonly budgetMs: number,
    /** `performance.now()` when the budget runs out; 0 without a budget. */
    readonly deadline: number,
    public owner: CallOwner,
  ) {}

  /** Arms the deadline: at `timeoutMs` the owner abandons the call with ERR_DEADLINE_EXCEEDED. */
  armDeadline(timeoutMs: number): void {
    this.timer = setTimeout(expire, timeoutMs, this, timeoutMs);
  }

  /** Listens to `signal`: aborting it abandons the call with ERR_CANCELLED. */
  listen(signal: AbortSignal): void {
    this.signal = signal;
    signal.addEventListener('abort', this, ONCE);
  }

  /** The abort listener (EventTarget calls `handleEvent` on listener objects). */
  handleEvent(): void {
    this.owner.aborted(this);
  }

  // Observers call these as teardown after every completion too (rxjs does), so a settled call costs a field check.
  cancel(): void {
    if (!this.settled) this.owner.cancel(this);
  }

  unsubscribe(): void {
    if (!this.settled) this.owner.cancel(this);
  }

  grant(items: number): void {
    if (!this.settled) this.owner.grant(this, items);
  }

  congest(): void {
    this.owner.congest();
  }

  relieve(): void {
    this.owner.relieve();
  }

  /** Whether the call keeps waiting for a ready endpoint through failed attempts (it has a deadline to bound the wait). */
  get patient(): boolean {
    return this.deadline !== 0 && this.options?.waitForReady !== false;
  }

  /** Marks the call let go of and detaches its timer and listener; the caller then notifies the observer or hands the call on. */
  release(): void {
    this.settled = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.signal !== undefined) {
      this.signal.removeEventListener('abort', this);
      this.signal = undefined;
    }
  }
}

const ONCE = { once: true } as const;

function expire(call: PendingCall, timeoutMs: number): void {
  call.owner.expired(call, timeoutMs);
}

/** A new call, not yet on a session; `defaultTimeoutMs` applies unless the options set one. */
export function createCall(
  pattern: string,
  data: unknown,
  observer: CallObserver,
  options: CallOptions | undefined,
  consumer: PacedConsumer | undefined,
  defaultTimeoutMs: number,
  owner: CallOwner,
): PendingCall {
  const timeoutMs = options?.timeoutMs ?? defaultTimeoutMs;
  const budget = timeoutMs > 0 ? timeoutMs : 0;
  const frame: RpcFrame = { id: 0, code: ControlCode.Normal, pattern, data, timeoutMs: budget > 0 ? budget : undefined, meta: options?.meta };
  return new PendingCall(frame, observer, options, consumer, budget, budget > 0 ? performance.now() + budget : 0, owner);
}
