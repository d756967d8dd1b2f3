import type { Connection, Reactor } from '../../core/connection.js';
import { FrameTooLargeError, ProtocolError } from '../../core/errors.js';
import type { OversizedFrame } from '../../core/frame-reader.js';
import {
  BadRequestError,
  CancelledError,
  DeadlineExceededError,
  DuplicateCallIdError,
  NoHandlerError,
  RequestTooLargeError,
  ShuttingDownError,
  TooManyCallsError,
} from '../errors.js';
import { connectionLost, IdleWaiters } from '../in-flight.js';
import { ControlCode } from '../wire/control-code.js';
import { isCreditGrant } from '../wire/flow-control.js';
import type { RpcFrame } from '../wire/frame.js';
import type { WireProfile } from '../wire/profile.js';
import { type CallOwner, ServerCall } from './call.js';
import { CallContext, type PeerInfo } from './call-context.js';
import { ConnectionOutput } from './connection-output.js';
import { refusal, sendError, type SerializeError } from './error-body.js';
import { type EventHandler, isThenable, type RequestHandler } from './handler.js';
import { ObservedServerCall } from './observed-call.js';
import { callsObserved } from '../diagnostics.js';
import { KEEPALIVE_PING_ID } from '../keepalive.js';
import { ServerUpkeep, type UpkeepSettings, type UpkeptSession } from './upkeep.js';
import { keepForOwedReplies } from './peer-end.js';
import { type WaitingRequest, WaitingRequests } from './waiting-requests.js';

/** A frame every conforming client ignores (a Pong for no Ping): what the server probes a half-closed client with. */
const PEER_PROBE: RpcFrame = { id: 0, code: ControlCode.Pong };

export interface ServerSessionOptions {
  /** The connection's conversation rules (native, or protosocket-rpc). */
  profile: WireProfile;
  resolveHandler(pattern: string): RequestHandler | undefined;
  resolveEventHandler(pattern: string): EventHandler | undefined;
  serializeError: SerializeError;
  /** Reported errors that have no call to go to (event handlers, unknown events). */
  reportError(err: unknown): void;
  maxConcurrentCalls: number;
  /** Bytes of requests that may wait for a call slot, per connection; past it a request fails with ERR_TOO_MANY_CALLS. */
  maxQueuedRequestBytes: number;
  maxBufferedItems: number;
  maxBufferedBytes: number;
  /** After the client half-closes, how long calls in flight may go on before the connection closes. */
  drainTimeoutMs: number;
  /** Heartbeat, connection age and idleness (upkeep.ts). */
  upkeep: UpkeepSettings;
}

/**
 * The server side of one RPC connection: dispatches requests and events, tracks the calls in
 * flight by id, and applies the per-connection concurrency cap. Frames of calls go out through
 * their writers and the session's one ConnectionOutput.
 *
 * At `maxConcurrentCalls` the session stops *starting* calls, never reading: Cancel, Credit,
 * Ping and the peer's FIN are always read, so calls that end only when cancelled cannot hold
 * the connection, and a peer that leaves is noticed.
 *
 *   request ──slot free, nothing waiting──> started
 *           └─at the cap──> WaitingRequests (bounded in bytes) ──a call finishes──> started
 *                        └─queue full──> Error ERR_TOO_MANY_CALLS at once
 *
 * The one connection-level read pause left is a memory safety net: a client that has its
 * requests refused while it does not read the refusals (our output over its high-water mark)
 * is not read either, until it reads.
 *
 * GoAway (the server's `close()`, or the upkeep: connection age, idleness) carries the highest
 * call id the session accepted; from then on every new request is refused with ERR_REFUSED
 * (it never reaches a handler, so the client may send it elsewhere), while the calls already
 * accepted run to their end.
 */
export class ServerSession implements Reactor<RpcFrame>, CallOwner, UpkeptSession {
  private readonly calls = new Map<number, ServerCall>();
  private readonly waiting: WaitingRequests;
  private readonly idle = new IdleWaiters();
  private readonly peer: PeerInfo;
  private readonly output: ConnectionOutput;
  private readonly upkeep: ServerUpkeep | undefined;
  private goAwaySent = false;
  /** The highest id of a request accepted (dispatched) on this connection; 0 if none. What GoAway carries. */
  private highestAcceptedId = 0;
  private activityCount = 0;
  /** Starting waiting calls: a call that finishes synchronously meanwhile does not start another loop. */
  private startingWaiting = false;
  private pausedForOutput = false;

  constructor(
    private readonly connection: Connection<RpcFrame, RpcFrame>,
    private readonly options: ServerSessionOptions,
  ) {
    this.peer = { remoteAddress: connection.remoteAddress, remotePort: connection.remotePort };
    this.output = new ConnectionOutput(
      connection,
      options.serializeError,
      options.maxBufferedItems,
      options.maxBufferedBytes,
      options.profile.foldsSingleItemStreams,
      // Credit is this protocol's: a protosocket-rpc client never grants any.
      options.profile.sends(ControlCode.Credit),
    );
    this.waiting = new WaitingRequests(options.maxQueuedRequestBytes);
    this.upkeep = ServerUpkeep.start(options.upkeep, this);
  }

  get activity(): number {
    return this.activityCount;
  }

  /** GoAway was sent: new requests are refused with ERR_REFUSED. */
  get draining(): boolean {
    return this.goAwaySent;
  }

  /** Calls running, not counting requests waiting for a slot. */
  get inFlight(): number {
    return this.calls.size;
  }

  /** Requests waiting for a call slot (the connection is at `maxConcurrentCalls`). */
  get waitingCalls(): number {
    return this.waiting.size;
  }

  get conn(): Connection<RpcFrame, RpcFrame> {
    return this.connection;
  }

  onMessage(frame: RpcFrame, bytes: number): void {
    if (frame.invalid !== undefined) {
      this.onInvalid(frame, frame.invalid);
      return;
    }
    try {
      this.options.profile.checkInbound(frame, 'client');
    } catch (err) {
      this.connection.destroy(err as Error);
      return;
    }
    switch (frame.code) {
      case ControlCode.Normal:
        this.onRequest(frame, bytes);
        return;
      case ControlCode.Cancel:
        this.onCancel(frame);
        return;
      case ControlCode.Credit:
        this.onCredit(frame);
        return;
      case ControlCode.Event:
        this.onEvent(frame);
        return;
      case ControlCode.Ping:
        this.trySend({ id: frame.id, code: ControlCode.Pong });
        return;
      case ControlCode.Pong:
      case ControlCode.End:
        return;
      default:
        this.connection.destroy(new ProtocolError(`a client must not send control code ${frame.code}`));
    }
  }

  /** A frame over maxFrameBytes, skipped unread: its request fails, the connection goes on. */
  onFrameSkipped(frame: OversizedFrame): void {
    this.activityCount++;
    this.options.reportError(new FrameTooLargeError(frame.size, frame.limit, 'inbound'));
    // Id 0 is an event's: there is no call to fail. A request reusing an id in flight is not answered under that id.
    if (frame.id === 0 || this.calls.has(frame.id) || this.waiting.has(frame.id)) return;
    sendError(this.output, frame.id, new RequestTooLargeError(frame.size, frame.limit));
  }

  /** The client half-closed after its requests: they still get their answers, for up to the drain timeout (peer-end.ts). */
  onPeerEnd(): Promise<void> | undefined {
    if (this.isIdle) return undefined;
    // A protosocket-rpc peer gets no probe (it has no Pong): only the drain timeout bounds the wait.
    const probe = this.options.profile.sends(ControlCode.Pong) ? () => this.trySend(PEER_PROBE) : noop;
    return keepForOwedReplies(this.whenIdle(), this.options.drainTimeoutMs, probe);
  }

  onClose(reason: Error | undefined): void {
    this.upkeep?.stop();
    // Nothing waiting may start on a closed connection, not even from a finishing call below.
    this.waiting.drain();
    const lost = connectionLost(reason);
    for (const call of [...this.calls.values()]) call.abort(lost);
    this.idle.wakeAll();
  }

  /**
   * Tells the client to send no new calls here (graceful shutdown, connection age, idleness),
   * with the highest call id accepted so far; requests from now on are refused. Once only.
   */
  goAway(): void {
    if (this.goAwaySent || this.connection.state !== 'open') return;
    this.goAwaySent = true;
    // A protosocket-rpc peer has no GoAway: its new requests are refused all the same, and it
    // learns of the shutdown when the connection closes.
    if (!this.options.profile.sends(ControlCode.GoAway)) return;
    try {
      this.connection.send({ id: this.highestAcceptedId, code: ControlCode.GoAway });
    } catch {
      // The connection is failing anyway; shutdown closes it.
    }
  }

  /** Fails every call still running, or still waiting for a slot, with ERR_SHUTTING_DOWN. */
  abandonAll(): void {
    for (const request of this.waiting.drain()) sendError(this.output, request.frame.id, new ShuttingDownError());
    for (const call of [...this.calls.values()]) call.abandon(new ShuttingDownError());
  }

  whenIdle(): Promise<void> {
    if (this.isIdle) return Promise.resolve();
    return this.idle.wait();
  }

  /** A heartbeat Ping; its Pong (or any frame) is what the upkeep's heartbeat waits for. */
  ping(): void {
    this.trySend({ id: KEEPALIVE_PING_ID, code: ControlCode.Ping });
  }

  finished(call: ServerCall): void {
    this.activityCount++;
    if (this.calls.get(call.id) === call) this.calls.delete(call.id);
    if (this.waiting.size > 0) this.startWaiting();
    if (this.idle.waiting && this.isIdle) this.idle.wakeAll();
  }

  private get isIdle(): boolean {
    return this.calls.size === 0 && this.waiting.size === 0;
  }

  private onRequest(frame: RpcFrame, bytes: number): void {
    const { id, pattern = '' } = frame;
    if (this.goAwaySent) {
      this.trySend(refusal(id));
      return;
    }
    this.activityCount++;
    if (id > this.highestAcceptedId) this.highestAcceptedId = id;
    if (this.calls.has(id) || this.waiting.has(id)) {
      sendError(this.output, id, new DuplicateCallIdError(id));
      return;
    }
    const handler = this.options.resolveHandler(pattern) ?? this.eventAsCall(pattern);
    if (handler === undefined) {
      sendError(this.output, id, new NoHandlerError(pattern));
      return;
    }
    if (this.calls.size < this.options.maxConcurrentCalls && this.waiting.size === 0) {
      this.start(frame, handler, undefined);
      return;
    }
    const deadline = frame.timeoutMs === undefined ? undefined : Date.now() + frame.timeoutMs;
    if (!this.waiting.offer({ frame, handler, bytes, deadline, extraCredit: 0, cancelled: false })) this.refuse(id);
  }

  /** The cap is reached and the waiting requests fill their bytes: this one fails now. */
  private refuse(id: number): void {
    sendError(this.output, id, new TooManyCallsError(this.options.maxConcurrentCalls, this.waiting.maxBytes));
    // Memory safety net: refusals the client does not read would pile up in our output.
    if (this.pausedForOutput || this.connection.writable || this.connection.state !== 'open') return;
    this.pausedForOutput = true;
    this.connection.pauseReading();
    this.connection.waitForDrain().then(() => {
      this.pausedForOutput = false;
      this.connection.resumeReading();
    }, noop);
  }

  private onCancel(frame: RpcFrame): void {
    // A Cancel for a call that already finished (or never existed) is normal: ignore it.
    // One with `timeoutMs` is the client's deadline passing, which our own timer may not have seen yet.
    const call = this.calls.get(frame.id);
    if (call !== undefined) {
      call.abort(frame.timeoutMs === undefined ? new CancelledError('call cancelled by the client') : new DeadlineExceededError(frame.timeoutMs));
      return;
    }
    // A request still waiting for a slot is forgotten: it never starts, and nothing is sent for it.
    if (this.waiting.has(frame.id)) {
      this.waiting.cancel(frame.id);
      if (this.idle.waiting && this.isIdle) this.idle.wakeAll();
    }
  }

  private onCredit(frame: RpcFrame): void {
    if (!isCreditGrant(frame.data)) {
      this.connection.destroy(new ProtocolError(`a Credit frame must carry a whole number of items in 1..2^32-1, got ${String(frame.data)}`));
      return;
    }
    const call = this.calls.get(frame.id);
    if (call !== undefined) {
      call.grant(frame.data);
      return;
    }
    const request = this.waiting.get(frame.id);
    if (request !== undefined) request.extraCredit += frame.data;
  }

  /** Starts the waiting requests, oldest first, while there are slots. */
  private startWaiting(): void {
    if (this.startingWaiting) return;
    this.startingWaiting = true;
    try {
      while (this.calls.size < this.options.maxConcurrentCalls) {
        const request = this.waiting.take();
        if (request === undefined) break;
        this.start(request.frame, request.handler, request);
      }
    } finally {
      this.startingWaiting = false;
    }
  }

  /** Runs a request's handler; `waited` is its queue entry when it waited for a slot. */
  private start(frame: RpcFrame, handler: RequestHandler, waited: WaitingRequest | undefined): void {
    const { id, pattern = '', timeoutMs } = frame;
    let deadline: number | undefined;
    let timerMs = timeoutMs;
    if (timeoutMs !== undefined) {
      // A request that waited for a slot spent part of its budget waiting: the deadline runs from its arrival.
      deadline = waited?.deadline ?? Date.now() + timeoutMs;
      if (waited !== undefined) {
        timerMs = Math.max(0, deadline - Date.now());
        if (timerMs === 0 && timeoutMs > 0) {
          sendError(this.output, id, new DeadlineExceededError(timeoutMs));
          return;
        }
      }
    }
    const context = new CallContext(id, pattern, frame.meta, deadline, this.peer);
    const observed = callsObserved() ? new ObservedServerCall(this.output, this, this.connection, frame) : undefined;
    const call = new ServerCall(id, context, observed ?? this.output, observed ?? this);
    if (waited !== undefined && waited.extraCredit > 0) call.grant(waited.extraCredit);
    if (observed === undefined) call.run(handler, frame.data);
    else observed.run(call, handler, frame.data);
    // A handler that answered synchronously is done already: no frame can have arrived for it
    // meanwhile, so it never needs to be found by id, counted, or timed.
    if (call.done) return;
    this.calls.set(id, call);
    if (timeoutMs !== undefined) call.armDeadline(timerMs as number, timeoutMs);
  }

  /** An intact frame with bad content: a request is answered with ERR_BAD_REQUEST; anything else is reported and dropped. */
  private onInvalid(frame: RpcFrame, invalid: ProtocolError): void {
    this.activityCount++;
    if (frame.code === ControlCode.Normal && !this.calls.has(frame.id) && !this.waiting.has(frame.id)) {
      sendError(this.output, frame.id, new BadRequestError(invalid));
      return;
    }
    this.options.reportError(invalid);
  }

  /**
   * protosocket-rpc has no events: a peer's request to a pattern with an event handler (and no
   * request handler) runs that handler as a call, answered with an empty reply once it is done.
   */
  private eventAsCall(pattern: string): RequestHandler | undefined {
    if (!this.options.profile.eventsAsCalls) return undefined;
    const handler = this.options.resolveEventHandler(pattern);
    if (handler === undefined) return undefined;
    return (data, context) => {
      const result = handler(data, context);
      return isThenable(result) ? result.then(noValue) : undefined;
    };
  }

  private onEvent(frame: RpcFrame): void {
    this.activityCount++;
    const pattern = frame.pattern ?? '';
    const handler = this.options.resolveEventHandler(pattern);
    if (handler === undefined) {
      this.options.reportError(new ProtocolError(`no event handler for pattern ${pattern}`));
      return;
    }
    try {
      const result = handler(frame.data, new CallContext(0, pattern, frame.meta, undefined, this.peer));
      if (isThenable(result)) result.then(undefined, this.options.reportError);
    } catch (err) {
      this.options.reportError(err);
    }
  }

  /** A frame of no call in flight (Pong, Ping, a refusal): a failure to queue it fails the connection. */
  private trySend(frame: RpcFrame): void {
    try {
      this.output.send(frame);
    } catch (err) {
      this.connection.destroy(err as Error);
    }
  }
}

function noValue(): undefined {
  return undefined;
}

function noop(): void {}
