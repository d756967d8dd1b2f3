import type { ObservedConnection } from '../../core/diagnostics.js';
import { callStartFields, type ClientCallStartMessage, callStartChannel, outcomeOf, publishCallEnd } from '../diagnostics.js';
import type { RpcFrame } from '../wire/frame.js';
import type { CallObserver } from './call.js';

/**
 * A client call seen by the diagnostics channels: publishes `call:start` (whose subscribers may
 * add metadata to the request) and stands between the session and the caller's observer to
 * count the values and publish `call:end` when the call settles, whichever way. Built only
 * while someone subscribes (`callsObserved()`), so unobserved calls never allocate one.
 */
export class ObservedClientCall implements CallObserver {
  private readonly start: ClientCallStartMessage;
  private items = 0;

  /** Publishes `call:start` for `request` and may replace `request.meta` with what subscribers added. */
  constructor(
    connection: ObservedConnection,
    request: RpcFrame,
    private readonly observer: CallObserver,
  ) {
    this.start = {
      side: 'client',
      ...callStartFields(connection, request),
      meta: request.meta,
    };
    if (callStartChannel.hasSubscribers) callStartChannel.publish(this.start);
    request.meta = this.start.meta;
  }

  next(value: unknown): void {
    this.items++;
    this.observer.next(value);
  }

  error(err: Error): void {
    publishCallEnd(this.start, outcomeOf(err), err, this.items);
    this.observer.error(err);
  }

  complete(): void {
    publishCallEnd(this.start, 'ok', undefined, this.items);
    this.observer.complete();
  }
}
