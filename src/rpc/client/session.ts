import type { Connection, Reactor } from '../../core/connection.js';
import { FrameTooLargeError, ProtocolError } from '../../core/errors.js';
import type { OversizedFrame } from '../../core/frame-reader.js';
import { type CallHandle, type CallObserver, type CallOptions, SETTLED_HANDLE } from './call.js';
import { type CallCanceller, type PacedConsumer, PendingCall } from './pending-call.js';
import { ObservedClientCall } from './observed-call.js';
import { callsObserved } from '../diagnostics.js';
import { ControlCode } from '../wire/control-code.js';
import { GRANT_BATCH } from '../wire/flow-control.js';
import { CancelledError, DeadlineExceededError, InvalidMetadataError, ObserverError, PeerUnresponsiveError, RemoteError, UnsupportedByProfileError } from '../errors.js';
import { metaProblem } from '../wire/envelope.js';
import { connectionLost, IdleWaiters } from '../in-flight.js';
import { Keepalive, KEEPALIVE_PING_ID, type KeepaliveSettings } from '../keepalive.js';
import { SessionClock } from '../session-clock.js';
import type { Metadata, RpcFrame } from '../wire/frame.js';
import { NATIVE_PROFILE, type WireProfile } from '../wire/profile.js';

export type RpcConnection = Connection<RpcFrame, RpcFrame>;

export type { CallHandle } from './call.js';

/** What `sendEvent` returns while the connection has room: nothing to wait for, nothing to allocate. */
const QUEUED: Promise<void> = Promise.resolve();

/**
 * A connection proves itself by its first frame from the server (a reply, a Pong, anything) or
 * by staying open this long: only then does the client's reconnect backoff start over, so a
 * server that accepts and drops connections is retried at the backoff's pace, not at once.
 */
export const PROVEN_AFTER_MS = 5000;

/**
 * The client side of one RPC connection: allocates ids, matches replies to calls, and
 * settles every call exactly once, by reply, error, cancel, deadline or connection loss.
 *
 * Frames that arrive for an id with no call in flight (a reply after a cancel, a second End)
 * are dropped without error: ids are only reused after their call settled, and a late frame
 * for a reused id is the price of never blocking on the server's acknowledgement.
 *
 * With a heartbeat (keepalive.ts), a server that stays silent for an interval gets a Ping, and
 * one that answers nothing at all within the timeout after it has its connection destroyed
 * with ERR_PEER_UNRESPONSIVE, which every call in flight fails with.
 */
export class ClientSession implements Reactor<RpcFrame>, CallCanceller {
  private readonly calls = new Map<number, PendingCall>();
  private nextId = 1;
  private readonly pings = new Map<number, { resolve: (endMs: number) => void; reject: (err: Error) => void }>();
  private lastIdBeforeGoAway: number | undefined = undefined;
  private congestion = 0;
  private readonly idle = new IdleWaiters();
  private readonly keepalive: Keepalive | undefined;
  private readonly clock: SessionClock | undefined;
  /** Resolves once the connection proved itself (see PROVEN_AFTER_MS); never rejects, may never resolve. */
  readonly proven: Promise<void>;
  private markProven: (() => void) | undefined;
  private readonly provenTimer: NodeJS.Timeout;
  /** The profile has Credit frames (native): calls are flow-controlled (wire/flow-control.ts). */
  private readonly grantsCredit: boolean;

  /** Built in the connection's reactor factory, so a session never exists without its connection. */
  constructor(
    private readonly connection: RpcConnection,
    private readonly defaultTimeoutMs: number,
    /** Called when the server sends GoAway: the session then takes no new calls. */
    private readonly onGoAway: (session: ClientSession) => void,
    /** The connection's conversation rules (native, or protosocket-rpc). */
    private readonly profile: WireProfile = NATIVE_PROFILE,
    /** Ping the server after this much silence; undefined: no heartbeat (always under protosocket-rpc, which has no Ping). */
    keepalive?: KeepaliveSettings,
    /** An observer threw after its call had settled (from `error` or `complete`): nothing is left to fail but this report. */
    private readonly reportObserverError: (err: ObserverError) => void = noop,
  ) {
    this.proven = new Promise((resolve) => (this.markProven = resolve));
    this.provenTimer = setTimeout(() => this.prove(), PROVEN_AFTER_MS);
    this.provenTimer.unref();
    // Credit is this protocol's: under protosocket-rpc nothing is granted (the server sends as fast as the connection takes).
    this.grantsCredit = profile.sends(ControlCode.Credit);
    if (keepalive === undefined) return;
    this.keepalive = new Keepalive(keepalive, performance.now(), connection.framesReceived);
    this.clock = new SessionClock(this.onClock);
    this.clock.wakeBy(this.keepalive.due);
  }

  /**
   * The id the next call gets (then counting up, wrapping to 1 past the profile's largest).
   * For this package's tests: ids above 2^32 under the protosocket-rpc profile.
   * @internal
   */
  set nextCallId(id: number) {
    this.nextId = id;
  }

  get conn(): RpcConnection {
    return this.connection;
  }

  /** Takes new calls: open and not told to go away. */
  get usable(): boolean {
    return this.lastIdBeforeGoAway === undefined && this.connection.state === 'open';
  }

  /** The server sent GoAway: this connection is retired by the server, not failed. */
  get toldToGoAway(): boolean {
    return this.lastIdBeforeGoAway !== undefined;
  }

  /**
   * Once the server sent GoAway: the highest call id it accepted on this connection (0 if
   * none), from the GoAway's `id`. A call in flight with a higher id never reached a handler
   * (the server refuses it with ERR_REFUSED, or the connection closes before it could), so it
   * is safe to send again elsewhere. Undefined before any GoAway.
   */
  get goAwayLastId(): number | undefined {
    return this.lastIdBeforeGoAway;
  }

  get inFlight(): number {
    return this.calls.size;
  }

  /** Sends a request and routes its results to `observer`; a `paced` consumer grants the call's credit itself. */
  start(pattern: string, data: unknown, observer: CallObserver, options: CallOptions | undefined, paced?: PacedConsumer): CallHandle {
    const signal = options?.signal;
    if (signal?.aborted) {
      observer.error(new CancelledError('call aborted before it started', { cause: signal.reason }));
      return SETTLED_HANDLE;
    }
    const meta = options?.meta;
    const problem = meta === undefined ? undefined : metaProblem(meta);
    if (problem !== undefined) {
      observer.error(new InvalidMetadataError(problem));
      return SETTLED_HANDLE;
    }
    const id = this.allocateId();
    const timeoutMs = options?.timeoutMs ?? this.defaultTimeoutMs;
    const frame: RpcFrame = { id, code: ControlCode.Normal, pattern, data, timeoutMs: timeoutMs > 0 ? timeoutMs : undefined, meta };
    if (callsObserved()) observer = new ObservedClientCall(this.connection, frame, observer);
    const call = new PendingCall(id, observer, this, paced !== undefined && this.grantsCredit);
    if (this.profile.callerChoosesUnary && options?.stream !== true) call.unary = true;
    try {
      this.connection.send(frame);
    } catch (err) {
      observer.error(err as Error);
      return SETTLED_HANDLE;
    }
    this.calls.set(id, call);
    if (timeoutMs > 0) call.armDeadline(timeoutMs);
    if (signal !== undefined) call.listen(signal);
    paced?.started(call);
    return call;
  }

  /** Cancels a call in flight (PendingCall skips this once its call settled). */
  cancel(call: PendingCall): void {
    if (this.calls.get(call.id) === call) this.abandon(call, new CancelledError('call cancelled'));
  }

  /** The call's AbortSignal fired. */
  aborted(call: PendingCall): void {
    if (this.calls.get(call.id) === call) this.abandon(call, new CancelledError('call aborted', { cause: call.signal?.reason }));
  }

  /** The call's deadline passed. */
  expired(call: PendingCall, timeoutMs: number): void {
    if (this.calls.get(call.id) === call) this.abandon(call, new DeadlineExceededError(timeoutMs), timeoutMs);
  }

  /** Sends an event. Resolves at once, or after the connection drains when it is over its high-water mark. */
  sendEvent(pattern: string, data: unknown, meta: Metadata | undefined): Promise<void> {
    if (!this.profile.sends(ControlCode.Event)) {
      return Promise.reject(new UnsupportedByProfileError(`the ${this.profile.protocol} protocol has no events: make a call instead`));
    }
    const problem = meta === undefined ? undefined : metaProblem(meta);
    if (problem !== undefined) return Promise.reject(new InvalidMetadataError(problem));
    const frame: RpcFrame = { id: 0, code: ControlCode.Event, pattern, data, timeoutMs: undefined, meta };
    try {
      return this.connection.send(frame) ? QUEUED : this.connection.waitForDrain();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Round trip time of a Ping, in ms. */
  ping(): Promise<number> {
    if (!this.profile.sends(ControlCode.Ping)) return Promise.reject(new UnsupportedByProfileError(`the ${this.profile.protocol} protocol has no ping`));
    const id = this.allocatePingId();
    const started = performance.now();
    return new Promise<number>((resolve, reject) => {
      this.pings.set(id, { resolve: (end) => resolve(end - started), reject });
      try {
        this.connection.send({ id, code: ControlCode.Ping });
      } catch (err) {
        this.pings.delete(id);
        reject(err);
      }
    });
  }

  /** Grants `call` more credit: a Credit frame, unless the call settled or the connection is going. */
  grant(call: PendingCall, items: number): void {
    if (!this.grantsCredit || this.calls.get(call.id) !== call || this.connection.state !== 'open') return;
    try {
      this.connection.send({ id: call.id, code: ControlCode.Credit, data: items });
    } catch {
      // The queue is full or the connection is going: the call fails with it.
    }
  }

  /**
   * Observers are the caller's code: one that throws must not reach the connection (a reactor
   * throw destroys it, and every call on it). A throw from `next` fails and cancels that call;
   * one from `error` or `complete` is reported.
   */
  onMessage(frame: RpcFrame): void {
    try {
      this.dispatch(frame);
    } catch (err) {
      this.observerThrew(isCallFrame(frame.code) ? frame.id : undefined, err);
    }
  }

  private dispatch(frame: RpcFrame): void {
    if (this.markProven !== undefined) this.prove();
    if (frame.invalid !== undefined) {
      // An intact frame whose content cannot be used fails its call (Cancel tells the server
      // to stop, in case it was a stream item); the other calls go on.
      const call = isCallFrame(frame.code) ? this.calls.get(frame.id) : undefined;
      if (call !== undefined) this.abandon(call, frame.invalid);
      return;
    }
    try {
      this.profile.checkInbound(frame, 'server');
    } catch (err) {
      this.connection.destroy(err as Error);
      return;
    }
    switch (frame.code) {
      case ControlCode.Normal: {
        const call = this.calls.get(frame.id);
        if (call === undefined) return;
        if (!call.unary) {
          call.observer.next(frame.data);
          // An observer that is not paced takes each item as it comes: grant it back at once (in batches).
          if (!call.paced && this.grantsCredit && ++call.ungranted >= GRANT_BATCH && !call.settled) {
            const items = call.ungranted;
            call.ungranted = 0;
            this.grant(call, items);
          }
          return;
        }
        // protosocket-rpc's unary call: the first Normal is the answer (later frames for the id are dropped).
        this.settle(frame.id);
        answer(call, frame.data);
        return;
      }
      case ControlCode.Reply: {
        const call = this.settle(frame.id);
        if (call !== undefined) answer(call, frame.data);
        return;
      }
      case ControlCode.End: {
        this.settle(frame.id)?.observer.complete();
        return;
      }
      case ControlCode.Error: {
        this.settle(frame.id)?.observer.error(new RemoteError(frame.data));
        return;
      }
      case ControlCode.Cancel: {
        // A protosocket-rpc server answers this way for a pattern it does not serve (RpcKind::Cancelled).
        this.settle(frame.id)?.observer.error(new CancelledError('call cancelled by the server'));
        return;
      }
      case ControlCode.Ping: {
        // While closing, `send` refuses (and trySend would destroy the connection): the server
        // learns of the close from the connection itself.
        if (this.connection.state === 'open') this.trySend({ id: frame.id, code: ControlCode.Pong });
        return;
      }
      case ControlCode.Pong: {
        const ping = this.pings.get(frame.id);
        this.pings.delete(frame.id);
        ping?.resolve(performance.now());
        return;
      }
      case ControlCode.GoAway: {
        const first = this.lastIdBeforeGoAway === undefined;
        // A second GoAway (none is expected) may only lower the id: what was refused stays refused.
        this.lastIdBeforeGoAway = first ? frame.id : Math.min(this.lastIdBeforeGoAway as number, frame.id);
        if (first) this.onGoAway(this);
        return;
      }
      default:
        this.connection.destroy(new ProtocolError(`a server must not send control code ${frame.code}`));
    }
  }

  /** A reply over maxFrameBytes, skipped unread: its call fails, the connection goes on. */
  onFrameSkipped(frame: OversizedFrame): void {
    const call = this.calls.get(frame.id);
    if (call !== undefined) this.abandon(call, new FrameTooLargeError(frame.size, frame.limit, 'inbound'));
  }

  onClose(reason: Error | undefined): void {
    this.clock?.stop();
    clearTimeout(this.provenTimer);
    this.markProven = undefined;
    const calls = [...this.calls.values()];
    this.calls.clear();
    const closed = connectionLost(reason);
    for (const call of calls) {
      call.release();
      try {
        call.observer.error(closed);
      } catch (err) {
        this.reportObserverError(new ObserverError(err));
      }
    }
    // A ping the connection took down with it fails like a call: an RTT is never NaN.
    for (const ping of this.pings.values()) ping.reject(closed);
    this.pings.clear();
    this.idle.wakeAll();
  }

  /** Resolves when no call is in flight (at once if none is). */
  whenIdle(): Promise<void> {
    if (this.calls.size === 0 || this.connection.state === 'closed') return Promise.resolve();
    return this.idle.wait();
  }

  /** A stream consumer is behind: stop reading until every congested stream is relieved. */
  congest(): void {
    if (this.congestion++ === 0) this.connection.pauseReading();
  }

  relieve(): void {
    if (--this.congestion === 0) this.connection.resumeReading();
  }

  private prove(): void {
    const mark = this.markProven;
    if (mark === undefined) return;
    this.markProven = undefined;
    clearTimeout(this.provenTimer);
    mark();
  }

  private settle(id: number): PendingCall | undefined {
    const call = this.calls.get(id);
    if (call === undefined) return undefined;
    this.calls.delete(id);
    call.release();
    if (this.calls.size === 0 && this.idle.waiting) this.idle.wakeAll();
    return call;
  }

  /**
   * Settles a call locally and tells the server to stop working on it. A Cancel for a passed
   * deadline carries the expired budget in `timeoutMs`: it races the server's own deadline
   * timer, and either way the handler must see ERR_DEADLINE_EXCEEDED, not ERR_CANCELLED.
   */
  private abandon(call: PendingCall, reason: Error, expiredTimeoutMs?: number): void {
    if (this.calls.get(call.id) !== call) return;
    this.settle(call.id);
    if (this.connection.state === 'open') {
      try {
        this.connection.send({ id: call.id, code: ControlCode.Cancel, timeoutMs: expiredTimeoutMs });
      } catch {
        // The queue is full or the connection is going: the server learns of it when the connection ends.
      }
    }
    try {
      call.observer.error(reason);
    } catch (err) {
      // From a timer or an abort listener, a throw would be uncaught.
      this.reportObserverError(new ObserverError(err));
    }
  }

  /** A throw from an observer while a frame was delivered: fails (and cancels) its call if still in flight, else is reported. */
  private observerThrew(id: number | undefined, thrown: unknown): void {
    const error = new ObserverError(thrown);
    const call = id === undefined ? undefined : this.calls.get(id);
    if (call === undefined) this.reportObserverError(error);
    else this.abandon(call, error);
  }

  /**
   * Sends a frame the reactor owes the server (a Pong). A throw must not escape into the
   * connection's reactor: a failed send destroys the connection with its own error, as the
   * server side does.
   */
  private trySend(frame: RpcFrame): void {
    try {
      this.connection.send(frame);
    } catch (err) {
      this.connection.destroy(err as Error);
    }
  }

  /** The heartbeat is due: ping, or give the silent server up. A closing connection has no calls left to protect. */
  private readonly onClock = (now: number): void => {
    const keepalive = this.keepalive as Keepalive;
    if (this.connection.state !== 'open') return;
    switch (keepalive.check(now, this.connection.framesReceived, this.connection.readingPaused)) {
      case 'ping':
        this.trySend({ id: KEEPALIVE_PING_ID, code: ControlCode.Ping });
        break;
      case 'unresponsive':
        this.connection.destroy(new PeerUnresponsiveError(keepalive.silentMs));
        return;
      case 'wait':
        break;
    }
    this.clock?.wakeBy(keepalive.due);
  };

  private allocateId(): number {
    let id = this.nextId;
    const max = this.profile.maxCallId;
    while (this.calls.has(id)) id = id >= max ? 1 : id + 1;
    this.nextId = id >= max ? 1 : id + 1;
    return id;
  }

  private allocatePingId(): number {
    let id = 1;
    while (this.pings.has(id)) id++;
    return id;
  }
}

/** Frames whose id is a call's (Ping and Pong ids are the pings' own, GoAway's a watermark). */
function isCallFrame(code: ControlCode): boolean {
  return code !== ControlCode.Ping && code !== ControlCode.Pong && code !== ControlCode.GoAway;
}

/** A unary answer: the value (if any), then completion; a `next` that throws still leaves the observer one terminal call. */
function answer(call: PendingCall, data: unknown): void {
  if (data !== undefined) {
    try {
      call.observer.next(data);
    } catch (err) {
      call.observer.error(new ObserverError(err));
      return;
    }
  }
  call.observer.complete();
}

function noop(): void {}
