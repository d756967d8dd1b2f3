import { DeadlineExceededError } from '../errors.js';
import { abortCallContext, type CallContext } from './call-context.js';
import { type CallOutput, CallWriter } from './call-writer.js';
import { isThenable, type RequestHandler } from './handler.js';
import { respond } from './results/respond.js';
import type { ResultTarget } from './results/target.js';

/** Told when a call is over, so its session can forget it. */
export interface CallOwner {
  finished(call: ServerCall): void;
  /** The call ended by abort or abandon (after `finished`), with the reason its signal carries. Optional: only observers need it. */
  aborted?(call: ServerCall, reason: Error): void;
}

/**
 * One request being served, and its lifecycle: the handler runs, its result is sent by an
 * adapter of results/ through the writer (call-writer.ts, which this class extends), and the
 * call ends exactly once.
 *
 *   run(handler) ──value / Promise──> respond(): unary | pulled | pushed ──> terminal frame ─┐
 *                └─throw / reject───> Error ───────────────────────────────────────────────┤
 *   abort(reason)   (Cancel frame, connection loss)  ──> no frame, signal aborted ─────────┤
 *   abandon(reason) (deadline, shutdown)             ──> Error now, signal aborted ────────┤
 *                                                                                         v
 *                          onClosed: deadline timer cleared, producer stopped, owner.finished
 *
 * Invariants: after the writer closes nothing more is sent and the producer has been told to
 * stop; `context.signal` aborts only through `abort` and `abandon`, never on a normal end.
 */
export class ServerCall extends CallWriter implements ResultTarget {
  private deadlineTimer: NodeJS.Timeout | undefined;
  private stopProducer: (() => void) | undefined;

  constructor(
    id: number,
    readonly context: CallContext,
    out: CallOutput,
    private readonly owner: CallOwner,
  ) {
    super(id, out);
  }

  /**
   * In `inMs` (the deadline) the producer stops, the client gets ERR_DEADLINE_EXCEEDED for its
   * `timeoutMs` budget and the signal aborts with it. `inMs` is less than the budget for a
   * request that waited for a slot.
   */
  armDeadline(inMs: number, timeoutMs = inMs): void {
    this.deadlineTimer = setTimeout(expire, inMs, this, timeoutMs);
  }

  run(handler: RequestHandler, data: unknown): void {
    let result: unknown;
    try {
      result = handler(data, this.context);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => respond(this, value),
        (err: unknown) => this.fail(err),
      );
    } else {
      respond(this, result);
    }
  }

  /** Ends the call without another frame (the client cancelled, or the connection is gone). */
  abort(reason: Error): void {
    this.close();
    abortCallContext(this.context, reason);
    this.owner.aborted?.(this, reason);
  }

  /** The server gives up on the call: the client gets `reason` as the Error, the handler as `signal.reason`. */
  abandon(reason: Error): void {
    this.failNow(reason);
    abortCallContext(this.context, reason);
    this.owner.aborted?.(this, reason);
  }

  setProducer(stop: (() => void) | undefined): void {
    this.stopProducer = stop;
  }

  protected onClosed(): void {
    clearTimeout(this.deadlineTimer);
    const stop = this.stopProducer;
    this.stopProducer = undefined;
    stop?.();
    this.owner.finished(this);
  }
}

function expire(call: ServerCall, timeoutMs: number): void {
  call.abandon(new DeadlineExceededError(timeoutMs));
}
