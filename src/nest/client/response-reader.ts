import type { Deserializer } from '@nestjs/microservices';
import type { CallObserver } from '../../rpc/client/call.js';
import { RemoteError } from '../../rpc/errors.js';
import { isThenable } from '../../rpc/server/handler.js';

/** Where a call's results go, as Nest's `WritePacket` fields: `response`s, then an `err` or the end. */
export interface ResponseSink {
  next(response: unknown): void;
  error(err: unknown): void;
  complete(): void;
}

/** Nest's `IncomingResponse` fields, as a user's deserializer returns them. */
interface ResponsePacket {
  response?: unknown;
  err?: unknown;
}

/**
 * A call's observer when the client has a `deserializer`: every response frame's data (and an
 * error frame's body) is deserialized into Nest's `{ response, err }` first. A deserializer may
 * return a Promise; results still reach the sink in frame order, each one after the previous.
 *
 * A packet whose `err` is set fails the call; an error body that does not deserialize to a
 * packet with `err` (one the server's RPC layer made itself, such as ERR_SHUTTING_DOWN) is
 * delivered as it is. A `response` that is undefined is not delivered (Transport.TCP delivers
 * none for the packet that ends a call either).
 */
export class ResponseReader implements CallObserver {
  /** Set once a deserializer returned a Promise: every later frame waits behind it. */
  private queue: Promise<void> | undefined;
  private failed = false;

  constructor(
    private readonly deserializer: Deserializer,
    private readonly sink: ResponseSink,
  ) {}

  next(value: unknown): void {
    this.read(value, (packet) => {
      if (packet?.err !== undefined && packet.err !== null) this.fail(packet.err);
      else if (packet?.response !== undefined) this.sink.next(packet.response);
    });
  }

  error(err: Error): void {
    if (!(err instanceof RemoteError)) {
      this.after(() => this.fail(err));
      return;
    }
    this.read(err.body, (packet) => this.fail(packet !== null && typeof packet === 'object' && 'err' in packet ? packet.err : err.body));
  }

  complete(): void {
    this.after(() => {
      if (!this.failed) this.sink.complete();
    });
  }

  private read(value: unknown, deliver: (packet: ResponsePacket | undefined) => void): void {
    this.after(() => {
      const packet = this.deserializer.deserialize(value) as ResponsePacket | undefined | PromiseLike<ResponsePacket | undefined>;
      if (!isThenable(packet)) {
        if (!this.failed) deliver(packet);
        return undefined;
      }
      return Promise.resolve(packet).then((resolved) => {
        if (!this.failed) deliver(resolved);
      });
    });
  }

  /**
   * Runs `step` now, or once everything queued before it has run, when a deserializer went
   * async. A step that returns a Promise holds the steps after it until it settles. A step
   * that throws (a deserializer's error) fails the call.
   */
  private after(step: () => Promise<void> | undefined | void): void {
    const guarded = (): Promise<void> | undefined => {
      try {
        return step()?.catch((err: unknown) => this.fail(err));
      } catch (err) {
        this.fail(err);
        return undefined;
      }
    };
    if (this.queue === undefined) this.queue = guarded();
    else this.queue = this.queue.then(guarded);
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.sink.error(err);
  }
}
