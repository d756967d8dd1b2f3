import type { Connection, Reactor } from '../../core/connection.js';
import { FrameTooLargeError, ProtocolError } from '../../core/errors.js';
import type { OversizedFrame } from '../../core/frame-reader.js';
import { type CallHandle, type CallObserver, type CallOptions, SETTLED_HANDLE } from './call.js';
import { type CallOwner, createCall, type PacedConsumer, type PendingCall } from './pending-call.js';
import { ObservedClientCall } from './observed-call.js';
import { callsObserved } from '../diagnostics.js';
import { ControlCode } from '../wire/control-code.js';
import { GRANT_BATCH } from '../wire/flow-control.js';
import {
  CancelledError,
  DeadlineExceededError,
  InvalidMetadataError,
  ObserverError,
  PeerUnresponsiveError,
  RefusedError,
  RemoteError,
  UnsupportedByProfileError,
} from '../errors.js';
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

/** Where a session reports what its owner (the subchannel, and the channel above it) acts on. */
export interface SessionEvents {
  /** The server sent GoAway on `session`: it takes no new calls from then on. */
  onGoAway(session: ClientSession): void;
  /**
   * `call` provably never reached a handler (refused by a draining server, above the id GoAway
   * named, or never written before its connection failed): send it elsewhere. False if it
   * cannot be (the client is closing, or it moved too often); the session then fails it with `reason`.
   */
  reroute(call: PendingCall, reason: Error): boolean;
}

/**
 * A connection proves itself by its first frame from the server (a reply, a Pong, anything) or
 * by staying open this long: only then does the client's reconnect backoff start over, so a
 * server that accepts and drops connections is retried at the backoff's pace, not at once.
 */
export const PROVEN_AFTER_MS = 5000;

/**
 * The client side of one RPC connection: allocates ids, matches replies to calls, and
 * settles every call exactly once, by reply, error, cancel, deadline or connection loss, or
 * hands it back to the channel when it provably never reached a handler.
 *
 * Frames that arrive for an id with no call in flight (a reply after a cancel, a second End)
 * are dropped without error: ids are only reused after their call settled, and a late frame
 * for a reused id is the price of never blocking on the server's acknowledgement.
 *
 * With a heartbeat (keepalive.ts), a server that stays silent for an interval gets a Ping, and
 * one that answers nothing at all within the timeout after it has its connection destroyed
 * with ERR_PEER_UNRESPONSIVE, which every call in flight fails with.
 */
export class ClientSession implements Reactor<RpcFrame>, CallOwner {
  private readonly calls = new Map<number, PendingCall>();
  private nextId = 1;
  /** Ids wrapped past MAX_CALL_ID: "above the GoAway id" no longer means "sent after it". */
  private idsWrapped = false;
  private readonly pings = new Map<number, { resolve: (endMs: number) => void; reject: (err: Error) => void }>();
  private lastIdBeforeGoAway: number | undefined = undefined;
  /** The last id this session sent before it heard GoAway. */
  private lastIdSentBeforeGoAway = 0;
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
    private readonly events: SessionEvents,
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
   * is sent again elsewhere at once. Undefined before any GoAway.
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
    const call = createCall(pattern, data, observer, options, paced, this.defaultTimeoutMs, this);
    return this.send(call, call.budgetMs) ? call : SETTLED_HANDLE;
  }

  /**
   * Takes over a call that waited for a ready session, or that provably never reached a
   * handler on another one: sends it under a new id with what is left of its budget.
   */
  adopt(call: PendingCall): void {
    const signal = call.options?.signal;
    if (signal?.aborted) {
      call.observer.error(new CancelledError('call aborted before it started', { cause: signal.reason }));
      return;
    }
    let remainingMs = 0;
    if (call.deadline !== 0) {
      remainingMs = Math.ceil(call.deadline - performance.now());
      if (remainingMs <= 0) {
        call.observer.error(new DeadlineExceededError(call.budgetMs));
        return;
      }
    }
    this.send(call, remainingMs);
  }

  /** Cancels a call in flight (PendingCall skips this once its call settled). */
  cancel(call: PendingCall): void {
    if (this.calls.get(call.id) === call) this.abandon(call, new CancelledError('call cancelled'));
  }

  /** The call's AbortSignal fired. */
  aborted(call: PendingCall): void {
    if (this.calls.get(call.id) === call) this.abandon(call, new CancelledError('call aborted', { cause: call.signal?.reason }));
  }

  /** The call's deadline passed; the Cancel carries the budget this session sent. */
  expired(call: PendingCall, timeoutMs: number): void {
    if (this.calls.get(call.id) === call) this.abandon(call, new DeadlineExceededError(call.budgetMs), timeoutMs);
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
        const call = this.settle(frame.id);
        if (call === undefined) return;
        const err = new RemoteError(frame.data);
        if (err.remoteCode !== RefusedError.code || !this.sentBeforeGoAway(call) || !this.events.reroute(call, err)) call.observer.error(err);
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
        this.onGoAway(frame.id);
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
    const written = this.connection.batchesWritten;
    for (const call of calls) {
      call.release();
      // Still in the batch the connection dropped: not a byte of it reached the server.
      if (call.batch === written && this.events.reroute(call, closed)) continue;
      this.failSettled(call, closed);
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

  /**
   * The server retires this connection. Its GoAway names the highest call id it accepted:
   * calls above it were sent after the server stopped accepting, so it refuses them unhandled,
   * and they move to another session now rather than after a round trip.
   */
  private onGoAway(id: number): void {
    const first = this.lastIdBeforeGoAway === undefined;
    // A second GoAway (none is expected) may only lower the id: what was refused stays refused.
    const lastId = first ? id : Math.min(this.lastIdBeforeGoAway as number, id);
    this.lastIdBeforeGoAway = lastId;
    if (first) this.lastIdSentBeforeGoAway = this.nextId - 1;
    if (first) this.events.onGoAway(this);
    if (this.idsWrapped) return;
    const refused = new RemoteError({ code: RefusedError.code, message: 'sent after the server stopped accepting calls (GoAway)' });
    for (const call of [...this.calls.values()]) {
      if (call.id <= lastId) continue;
      this.settle(call.id);
      if (!this.events.reroute(call, refused)) this.failSettled(call, refused);
    }
  }

  /**
   * Whether `call` went out before this session heard GoAway: only those are the channel's to
   * move (it never sends on a retired session; a call someone sent here afterwards stays here,
   * and its refusal is its answer). Past a wrap of the ids, every call counts as one.
   */
  private sentBeforeGoAway(call: PendingCall): boolean {
    return this.idsWrapped || call.id <= this.lastIdSentBeforeGoAway;
  }

  /** Queues the call's request under a new id; false (its observer told why) if it could not be queued. */
  private send(call: PendingCall, timeoutMs: number): boolean {
    const meta = call.frame.meta;
    const problem = meta === undefined ? undefined : metaProblem(meta);
    if (problem !== undefined) {
      call.observer.error(new InvalidMetadataError(problem));
      return false;
    }
    const id = this.allocateId();
    call.frame.id = id;
    // Observed once, when first sent (a moved call keeps its observer, and its diagnostics).
    // (Its budget as the caller gave it: the remaining one is set below.)
    if (call.moves === 0 && callsObserved()) call.observer = new ObservedClientCall(this.connection, call.frame, call.observer);
    if (timeoutMs !== call.budgetMs) call.frame.timeoutMs = timeoutMs > 0 ? timeoutMs : undefined;
    if (this.profile.callerChoosesUnary) call.unary = call.options?.stream !== true;
    // Credit is per connection: a fresh window here, granted by the consumer itself only where the profile has Credit.
    call.paced = call.consumer !== undefined && this.grantsCredit;
    call.ungranted = 0;
    call.batch = this.connection.batchesWritten;
    try {
      this.connection.send(call.frame);
    } catch (err) {
      call.observer.error(err as Error);
      return false;
    }
    call.id = id;
    call.owner = this;
    call.settled = false;
    this.calls.set(id, call);
    if (timeoutMs > 0) call.armDeadline(timeoutMs);
    const signal = call.options?.signal;
    if (signal !== undefined) call.listen(signal);
    call.consumer?.started(call);
    return true;
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
    // From a timer or an abort listener, a throw would be uncaught.
    this.failSettled(call, reason);
  }

  /**
   * Tells a settled call's observer why it failed. A throw from it is reported, not thrown:
   * the caller may be a timer, or a loop that still owes other calls their answer.
   */
  private failSettled(call: PendingCall, reason: Error): void {
    try {
      call.observer.error(reason);
    } catch (err) {
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
    if (id >= max) {
      this.idsWrapped = true;
      this.nextId = 1;
    } else {
      this.nextId = id + 1;
    }
    return id;
  }

  private allocatePingId(): number {
    let id = 1;
    while (this.pings.has(id)) id++;
    return id;
  }
}

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
