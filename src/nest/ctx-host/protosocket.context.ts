import { BaseRpcContext } from '@nestjs/microservices';
import type { CallContext } from '../../rpc/server/call-context.js';
import type { Metadata } from '../../rpc/wire/frame.js';

export type ProtosocketContextArgs = [pattern: string, call: CallContext];

/**
 * What `@Ctx()` gives a handler on a ProtosocketServer: the pattern, the call id, the peer, the
 * packet metadata (set by the client's dispatch hook), the deadline, and a signal that aborts
 * when the client cancels, the deadline passes, or the connection drops.
 */
export class ProtosocketContext extends BaseRpcContext<ProtosocketContextArgs> {
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

  /** Aborts when the client cancels, the deadline passes, or the connection drops; its `reason` says which. */
  getSignal(): AbortSignal {
    return this.args[1].signal;
  }

  /** The RPC layer's view of the call. */
  getCall(): CallContext {
    return this.args[1];
  }
}
