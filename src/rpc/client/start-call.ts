import type { CallHandle, CallObserver, CallOptions } from './call.js';
import type { PacedConsumer } from './pending-call.js';
import type { ClientSession } from './session.js';

export type { PacedConsumer } from './pending-call.js';

/** Starts a call on a session that takes calls. */
export function startCall(
  session: ClientSession,
  pattern: string,
  data: unknown,
  observer: CallObserver,
  options: CallOptions | undefined,
  paced: PacedConsumer | undefined,
): CallHandle {
  return session.start(pattern, data, observer, options, paced);
}

/**
 * A call waiting for a session (the channel is connecting): it starts when one is ready, or
 * fails with the attempt's error. Cancelled before it started, it never starts and its
 * observer hears nothing more.
 */
export class DeferredCall implements CallHandle {
  private started: CallHandle | undefined = undefined;
  private cancelled = false;

  constructor(
    ready: Promise<ClientSession>,
    private readonly pattern: string,
    private readonly data: unknown,
    private readonly observer: CallObserver,
    private readonly options: CallOptions | undefined,
    private readonly paced: PacedConsumer | undefined,
  ) {
    ready.then(
      (session) => {
        if (!this.cancelled) this.started = startCall(session, this.pattern, this.data, this.observer, this.options, this.paced);
      },
      (err: Error) => {
        if (!this.cancelled) this.observer.error(err);
      },
    );
  }

  cancel(): void {
    if (this.started !== undefined) this.started.cancel();
    else this.cancelled = true;
  }

  unsubscribe(): void {
    this.cancel();
  }
}
