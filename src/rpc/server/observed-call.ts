import type { ObservedConnection } from '../../core/diagnostics.js';
import { callStartFields, type CallOutcome, type ServerCallStartMessage, callStartChannel, outcomeOf, publishCallEnd } from '../diagnostics.js';
import { ControlCode } from '../wire/control-code.js';
import type { RpcFrame } from '../wire/frame.js';
import type { CallOwner, ServerCall } from './call.js';
import type { CallOutput, CallWriter } from './call-writer.js';
import type { RequestHandler } from './handler.js';

/**
 * A server call seen by the diagnostics channels: its output and owner, standing between the
 * call and its session. It publishes `call:start` and runs the handler in the context
 * subscribers asked for; it counts the Normal frames the call sends and publishes `call:end`
 * once, on whichever comes first of the two ways a call can end:
 *
 *   terminal frame sent (Reply, End: ok; Error: the error its body was serialized from)
 *   the call aborted without one (the client's Cancel or deadline, connection lost): `aborted`
 *
 * The writer closes (and tells its owner) before it queues the terminal frame, so `finished`
 * does not say how the call ended: the frame or the abort does. The abort is learnt from the
 * call itself, not from `context.signal`, so observing a call never creates its AbortController.
 * Built only while someone subscribes (`callsObserved()`), so unobserved calls never allocate one.
 */
export class ObservedServerCall implements CallOutput, CallOwner {
  private readonly start: ServerCallStartMessage;
  private items = 0;
  private ended = false;
  /** The last error serialized for this call: what its Error frame carries. */
  private lastError: unknown;
  readonly maxBufferedItems: number;
  readonly maxBufferedBytes: number;
  readonly flowControlled: boolean;
  readonly foldsSingleItemStreams: boolean;

  constructor(
    private readonly out: CallOutput,
    private readonly owner: CallOwner,
    connection: ObservedConnection,
    request: RpcFrame,
  ) {
    this.start = {
      side: 'server',
      ...callStartFields(connection, request),
      meta: request.meta,
      runInContext: undefined,
    };
    this.maxBufferedItems = out.maxBufferedItems;
    this.maxBufferedBytes = out.maxBufferedBytes;
    this.flowControlled = out.flowControlled;
    this.foldsSingleItemStreams = out.foldsSingleItemStreams;
  }

  /** Publishes `call:start`, then runs the call inside the context its subscribers set, if any. */
  run(call: ServerCall, handler: RequestHandler, data: unknown): void {
    if (callStartChannel.hasSubscribers) callStartChannel.publish(this.start);
    const runInContext = this.start.runInContext;
    if (runInContext === undefined) call.run(handler, data);
    else runInContext(() => call.run(handler, data));
  }

  // CallOutput and CallOwner: delegated, with the frames watched.

  get writable(): boolean {
    return this.out.writable;
  }

  send(frame: RpcFrame): boolean {
    const room = this.out.send(frame);
    switch (frame.code) {
      case ControlCode.Normal:
        this.items++;
        break;
      case ControlCode.Reply:
        if (frame.data !== undefined) this.items++;
        this.end('ok', undefined);
        break;
      case ControlCode.End:
        this.end('ok', undefined);
        break;
      case ControlCode.Error:
        this.end(outcomeOf(this.lastError), this.lastError);
        break;
      default:
    }
    return room;
  }

  serializeError(err: unknown): unknown {
    this.lastError = err;
    return this.out.serializeError(err);
  }

  waitWritable(writer: CallWriter): void {
    this.out.waitWritable(writer);
  }

  stopWaiting(writer: CallWriter): void {
    this.out.stopWaiting(writer);
  }

  finished(call: ServerCall): void {
    this.owner.finished(call);
  }

  aborted(_call: ServerCall, reason: Error): void {
    this.end(outcomeOf(reason), reason);
  }

  private end(outcome: CallOutcome, error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    publishCallEnd(this.start, outcome, error, this.items);
  }
}
