import type { CallHandle, CallObserver, CallOptions } from './call.js';
import type { ReadThrottle } from './call-stream.js';
import type { ClientSession } from './session.js';

/** A consumer that can stop its session's reads while it is behind (a stream); told its session when the call starts. */
export interface Throttled {
  throttle: ReadThrottle | undefined;
}

/** Starts a call on a session that takes calls. */
export function startCall(
  session: ClientSession,
  pattern: string,
  data: unknown,
  observer: CallObserver,
  options: CallOptions | undefined,
  throttled: Throttled | undefined,
): CallHandle {
  if (throttled !== undefined) throttled.throttle = session;
  return session.start(pattern, data, observer, options);
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
    private readonly throttled: Throttled | undefined,
  ) {
    ready.then(
      (session) => {
        if (!this.cancelled) this.started = startCall(session, this.pattern, this.data, this.observer, this.options, this.throttled);
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
