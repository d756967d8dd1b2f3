import type { Subscribable, Unsubscribable } from '../handler.js';
import { isPulledStream, pullResult } from './pulled.js';
import type { ResultTarget } from './target.js';

/**
 * Streams a Subscribable (an rxjs Observable): pushed items go to the writer, which sends them
 * while the connection has room and queues them (bounded) while it has not.
 *
 * The latest item is held back until a later item, the end of the tick, or the end of the
 * source shows whether it is the last one:
 *
 *   next(a) next(b) ... ──> Normal(a) ...          (each item released by the next one, or at the end of the tick)
 *   next(v) complete()  ──> Reply(v)               (one item then completion: a unary reply, one frame;
 *                                                   under protosocket-rpc, Normal(v) End: still a stream)
 *   next(it) complete() ──> it streamed, pulled    (an Observable of one AsyncIterable, as Nest's interceptors make)
 *   complete()          ──> End (after the queue)      error(e) ──> Error(e) (after the queue)
 */
export function pushResult(call: ResultTarget, source: Subscribable): void {
  new PushedResult(call).subscribe(source);
}

/**
 * The state of one pushed result, and the observer handed to the source itself, so a pushed
 * call (every call through Nest) costs no more objects than the observer it needs anyway.
 * Arrow-function members: a source may call them unbound.
 */
class PushedResult {
  private held: unknown;
  private holding = false;
  private releaseScheduled = false;

  constructor(private readonly call: ResultTarget) {}

  readonly next = (value: unknown): void => {
    if (this.call.done) return;
    if (this.holding) this.release();
    this.held = value;
    this.holding = true;
    if (!this.releaseScheduled) {
      this.releaseScheduled = true;
      process.nextTick(releaseHeld, this);
    }
  };

  readonly error = (err: unknown): void => this.ended({ error: err });

  readonly complete = (): void => this.ended('complete');

  subscribe(source: Subscribable): void {
    let subscription: Unsubscribable | undefined;
    let stopped = false;
    this.call.setProducer(() => {
      stopped = true;
      subscription?.unsubscribe();
    });
    subscription = source.subscribe(this);
    // The source may have ended, or been stopped, before `subscribe` returned.
    if (stopped) subscription.unsubscribe();
  }

  /** Sends the held item as a stream item: the end of the tick came without a sign it is the last. */
  releaseHeld(): void {
    this.releaseScheduled = false;
    if (this.holding && !this.call.done) this.release();
  }

  private ended(how: { error: unknown } | 'complete'): void {
    const call = this.call;
    if (call.done) return;
    call.setProducer(undefined);
    // Only with nothing queued can the held item be the answer itself: the frames keep their order.
    if (how === 'complete' && this.holding && !call.backlogged) {
      const value = this.take();
      if (isPulledStream(value)) void pullResult(call, value);
      else if (call.foldsSingleItemStreams) call.reply(value);
      else {
        call.item(value);
        call.end();
      }
      return;
    }
    if (this.holding) this.release();
    if (how === 'complete') call.end();
    else call.fail(how.error);
  }

  private release(): void {
    this.call.item(this.take());
  }

  private take(): unknown {
    const value = this.held;
    this.holding = false;
    this.held = undefined;
    return value;
  }
}

function releaseHeld(result: PushedResult): void {
  result.releaseHeld();
}
