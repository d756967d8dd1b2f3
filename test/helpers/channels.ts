import diagnosticsChannel from 'node:diagnostics_channel';
import { deferred } from './async.js';

/**
 * Records what a diagnostics channel publishes while subscribed. `next(match)` waits for a
 * message that matches (one already recorded counts). `dispose()` unsubscribes.
 */
export class ChannelRecorder<M> {
  readonly messages: M[] = [];
  private waiters: { match: (message: M) => boolean; resolve: (message: M) => void }[] = [];
  private readonly listener = (message: unknown): void => {
    const typed = message as M;
    this.messages.push(typed);
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.match(typed)) return true;
      waiter.resolve(typed);
      return false;
    });
  };

  constructor(readonly name: string) {
    diagnosticsChannel.subscribe(name, this.listener);
  }

  next(match: (message: M) => boolean = () => true): Promise<M> {
    const found = this.messages.find(match);
    if (found !== undefined) return Promise.resolve(found);
    const waiter = deferred<M>();
    this.waiters.push({ match, resolve: waiter.resolve });
    return waiter.promise;
  }

  dispose(): void {
    diagnosticsChannel.unsubscribe(this.name, this.listener);
  }
}
