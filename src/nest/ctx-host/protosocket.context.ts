import { BaseRpcContext } from '@nestjs/microservices';
import type { CallContext } from '../../rpc/server/call-context.js';
import type { Metadata } from '../../rpc/wire/frame.js';
import { CallAbortedException } from '../errors.js';

export type ProtosocketContextArgs = [pattern: string, call: CallContext];

/**
 * What `@Ctx()` gives a handler on a ProtosocketServer: the pattern, the call id, the peer, the
 * packet metadata (set by the client's dispatch hook), the deadline, and a signal that aborts
 * when the client cancels, the deadline passes, or the connection drops.
 */
export class ProtosocketContext extends BaseRpcContext<ProtosocketContextArgs> {
  private handlerSignal: AbortSignal | undefined;

  getPattern(): string {
    return this.args[0];
  }

  /** The call id on its connection (0 for an event). */
  getId(): number {
    return this.args[1].id;
  }

  getMetadata(): Metadata | undefined {
    return this.args[1].meta;
  }

  getRemoteAddress(): string | undefined {
    return this.args[1].peer.remoteAddress;
  }

  /** Epoch ms by which the client wants an answer, if it gave a time budget. */
  getDeadline(): number | undefined {
    return this.args[1].deadline;
  }

  /**
   * Aborts when the call is over for its client: cancelled, deadline passed, connection lost,
   * server shutting down. `signal.reason` is a `CallAbortedException` whose `code` says which
   * (ERR_CANCELLED, ERR_DEADLINE_EXCEEDED, ERR_CONNECTION_CLOSED, ERR_SHUTTING_DOWN) and whose
   * `cause` is the protosocket error: a handler that gives up by rethrowing it is not logged as
   * an error by Nest's exception filter. Created on first use.
   */
  getSignal(): AbortSignal {
    return (this.handlerSignal ??= handlerSignalOf(this.args[1]));
  }

  /** The RPC layer's view of the call (its `signal.reason` is the protosocket error itself). */
  getCall(): CallContext {
    return this.args[1];
  }
}

function handlerSignalOf(call: CallContext): AbortSignal {
  const controller = new AbortController();
  const source = call.signal;
  if (source.aborted) controller.abort(new CallAbortedException(source.reason));
  else source.addEventListener('abort', () => controller.abort(new CallAbortedException(source.reason)), { once: true });
  return controller.signal;
}
