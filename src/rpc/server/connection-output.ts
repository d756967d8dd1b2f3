import type { Connection } from '../../core/connection.js';
import type { RpcFrame } from '../wire/frame.js';
import type { CallOutput, CallWriter } from './call-writer.js';
import { isEncodeFailure, type SerializeError } from './error-body.js';

/**
 * The connection as the writers of one session see it: one per session. Holds the session's
 * one drain queue, the writers waiting for room, and waits for one drain at a time for all of them.
 */
export class ConnectionOutput implements CallOutput {
  private readonly waiting = new Set<CallWriter>();
  private drainPending = false;

  constructor(
    private readonly connection: Connection<RpcFrame, RpcFrame>,
    readonly serializeError: SerializeError,
    readonly maxBufferedItems: number,
    readonly maxBufferedBytes: number,
    readonly foldsSingleItemStreams: boolean,
    readonly flowControlled: boolean,
  ) {}

  get writable(): boolean {
    return this.connection.writable;
  }

  /**
   * Queues a frame; nothing once the connection is not open. Returns whether the connection
   * still has room (`Connection.send`'s answer). Encoding errors are thrown for the writer to
   * turn into an Error frame; a full queue means the client stopped reading, and the
   * connection is destroyed.
   */
  send(frame: RpcFrame): boolean {
    if (this.connection.state !== 'open') return false;
    try {
      return this.connection.send(frame);
    } catch (err) {
      if (isEncodeFailure(err)) throw err;
      this.connection.destroy(err as Error);
      return false;
    }
  }

  waitWritable(writer: CallWriter): void {
    this.waiting.add(writer);
    if (this.drainPending) return;
    this.drainPending = true;
    this.connection.waitForDrain().then(() => this.onDrain(), noop);
  }

  stopWaiting(writer: CallWriter): void {
    this.waiting.delete(writer);
  }

  /** Gives each waiting writer its turn while there is room; the rest wait for the next drain. */
  private onDrain(): void {
    this.drainPending = false;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const writer of waiting) {
      if (this.connection.writable) writer.onWritable();
      else this.waitWritable(writer);
    }
  }
}

function noop(): void {}
