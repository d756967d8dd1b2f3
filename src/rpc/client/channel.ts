import { ClientClosedError, CancelledError, DeadlineExceededError, NoReadyEndpointError, ObserverError } from '../errors.js';
import type { Backoff } from './backoff.js';
import { type BalancerName, pickByAffinity, picker, type Picker } from './balancer.js';
import type { CallOptions } from './call.js';
import type { CallOwner, PendingCall } from './pending-call.js';
import type { EndpointSource, ResolvedEndpoint } from './resolver.js';
import type { ClientSession, SessionEvents } from './session.js';
import { Subchannel, type SubchannelListener } from './subchannel.js';

/**
 * The client's connection state (its public status), the aggregate of its subchannels':
 *   connected     at least one subchannel is ready;
 *   connecting    none is, and one is connecting (or the first resolution is under way);
 *   disconnected  none is ready or connecting, and one failed (it reconnects after a backoff);
 *   idle          nothing connected yet, or a first attempt failed with nothing left to retry;
 *   closed        `close()` or `destroy()` was called. Not terminal, as Transport.TCP's client:
 *                 the next `ready()` or call reopens the channel with new subchannels (the
 *                 endpoints resolved anew), while those close() shut down go on draining.
 * With one endpoint these are that subchannel's states (subchannel.ts draws them) under the
 * names the client always had: ready = connected, transient_failure = disconnected.
 */
export type ChannelState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

/** Where the channel reports; the client turns these into its 'status' and 'error' events. */
export interface ChannelListener {
  onStatus(state: ChannelState): void;
  /** A connection attempt, an established connection or a resolution failed (the calls it affects learn of it too). */
  onError(err: Error): void;
  /** The observer of a call failed from a timer or a connection event threw: nobody's call is left to carry it. */
  onObserverError(err: ObserverError): void;
}

export interface ChannelConfig {
  /** Where the endpoints come from. */
  source: EndpointSource;
  /** Dials `endpoint` once: resolves with the new connection's session. */
  connect(endpoint: ResolvedEndpoint, events: SessionEvents): Promise<ClientSession>;
  /** A fresh backoff for each subchannel; undefined: no background reconnect. */
  backoff: (() => Backoff) | undefined;
  balancer: BalancerName;
  connectionsPerEndpoint: number;
  resolveIntervalMs: number;
  /** The balancer's random source (tests fix it). */
  random?: () => number;
}

/** How often one call may move to another session without reaching a handler before it fails. */
const MAX_MOVES = 8;
/** A connection failure asks for a new resolution no more often than this. */
const MIN_RESOLVE_GAP_MS = 1000;

/**
 * Owns a client's subchannels (one per endpoint and connection) and spreads calls over them:
 *
 *     RpcClient ── pick() / ready() / wait() ──> Channel ── balancer ──> Subchannel ──> ClientSession
 *                                                   ^                   (one endpoint)   (one connection)
 *                                  EndpointSource ──┘ resolves, again every resolveIntervalMs
 *                                                     and after a connection fails
 *
 * Callers use `pick()` (a ready session, synchronously: with one ready connection, one field
 * read and one check, nothing allocated) and, when there is none, `wait(call)` or `ready()`.
 * Waiting calls start as soon as a subchannel is ready; without one, those that may wait
 * through failures (a deadline, `waitForReady`) wait for their deadline and keep the failing
 * endpoints retrying, the others fail once nothing is connecting any more, with the last
 * connection error (a first attempt is always waited for).
 *
 * Calls a session hands back because they never reached a handler (`reroute`) take the same
 * route again, on another ready session or after waiting. An endpoint the resolver no longer
 * names is drained: its calls in flight finish, new ones go elsewhere.
 */
export class Channel implements CallOwner {
  private status: ChannelState = 'idle';
  private closed = false;
  /** The subchannels of the endpoints the source currently names, in its order. */
  private subchannels: Subchannel[] = [];
  /** Subchannels of endpoints the source dropped, and those a close() shut down, draining their calls. */
  private readonly retiring = new Set<Subchannel>();
  /** The ready ones among `subchannels`, in the same order. */
  private readyList: Subchannel[] = [];
  /** The session of the only ready subchannel, when there is exactly one: the fast path. */
  private only: ClientSession | undefined = undefined;
  private readonly waiting = new Set<PendingCall>();
  private requests: { resolve(session: ClientSession): void; reject(err: Error): void }[] = [];
  /** Why the last attempt, connection or resolution failed. */
  private lastError: Error | undefined = undefined;
  /** The last round of attempts ended with nothing ready: `waitForReady: false` calls fail at once. */
  private failing = false;
  /** Asked to connect at least once: new endpoints connect as they appear. */
  private active = false;
  private resolving = false;
  /**
   * Counts the closes: a resolution started before the latest close() is given up, its answer
   * (landing closed, or after a reopen that asked again) moves nothing.
   */
  private epoch = 0;
  private lastResolveAt = -Infinity;
  private resolveTimer: NodeJS.Timeout | undefined = undefined;
  /** Probes waiting on a subchannel's state or the source's answer (see `watch`); empty but while a probe runs. */
  private readonly watchers = new Set<() => void>();
  /** Several endpoints, or a dynamic source: an endpoint that never answered may be starting, so it is retried. */
  private readonly persistent: boolean;
  private readonly picker: Picker;
  private readonly subchannelListener: SubchannelListener = {
    onStateChange: (subchannel) => this.onStateChange(subchannel),
    onError: (err) => this.listener.onError(err),
    keepConnecting: () => this.keepConnecting(),
    reroute: (call) => this.reroute(call),
  };

  constructor(
    private readonly config: ChannelConfig,
    private readonly listener: ChannelListener,
  ) {
    this.picker = picker(config.balancer, config.random);
    const fixed = config.source.fixed;
    this.persistent = fixed === undefined || fixed.length > 1;
    if (fixed !== undefined) this.apply(fixed);
  }

  get state(): ChannelState {
    return this.status;
  }

  /** The session the first ready subchannel sends new calls to. */
  get session(): ClientSession | undefined {
    return this.readyList[0]?.session;
  }

  /** Ready subchannels (for tests, through the client). */
  get readyCount(): number {
    return this.readyList.length;
  }

  get subchannelCount(): number {
    return this.subchannels.length;
  }

  /** The subchannels of the endpoints the source names now, in its order (for probes: endpoint-probe.ts). */
  get endpoints(): readonly Subchannel[] {
    return this.subchannels;
  }

  /** No endpoint is known yet and the source is being asked: a probe waits for its answer. */
  get awaitingEndpoints(): boolean {
    return this.resolving && this.subchannels.length === 0;
  }

  /**
   * Someone wants every endpoint connected (a probe): reopens after close(), and starts an
   * attempt on every subchannel neither ready nor connecting, as a waiting call does.
   */
  connectAll(): void {
    this.reopen();
    this.kick();
  }

  /**
   * Calls `listener` after every change a probe waits on: a current subchannel's state, the
   * source's answer or its failure. Returns the unsubscribe.
   */
  watch(listener: () => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /** A session that takes calls now, chosen by the balancer (or by `options.affinityKey`), or undefined. */
  pick(options?: CallOptions): ClientSession | undefined {
    const only = this.only;
    if (only !== undefined && only.usable) return only;
    return this.readyList.length > 1 ? this.balance(options) : undefined;
  }

  /**
   * A session that takes calls: one ready now, or the first to be ready; rejects once nothing
   * is connecting any more. After close(), reopens the channel.
   */
  ready(): Promise<ClientSession> {
    const session = this.pick();
    if (session !== undefined) return Promise.resolve(session);
    this.reopen();
    return new Promise((resolve, reject) => {
      this.requests.push({ resolve, reject });
      this.kick();
      this.settleHopeless();
    });
  }

  /**
   * Holds `call` until a session is ready, then starts it there with what is left of its
   * budget; fails it as its options say when none becomes ready (see the class comment).
   */
  wait(call: PendingCall): void {
    const options = call.options;
    const signal = options?.signal;
    if (signal?.aborted) {
      call.observer.error(new CancelledError('call aborted before it started', { cause: signal.reason }));
      return;
    }
    let remainingMs = 0;
    if (call.deadline !== 0) {
      remainingMs = call.deadline - performance.now();
      if (remainingMs <= 0) {
        call.observer.error(new DeadlineExceededError(call.budgetMs));
        return;
      }
    }
    this.reopen();
    if (options?.waitForReady === false && this.failing) {
      this.kick();
      call.observer.error(new NoReadyEndpointError(undefined, { cause: this.lastError }));
      return;
    }
    call.owner = this;
    call.settled = false;
    if (remainingMs > 0) call.armDeadline(remainingMs);
    if (signal !== undefined) call.listen(signal);
    this.waiting.add(call);
    this.kick();
    this.settleHopeless();
  }

  /** A waiting call's handle was cancelled: it never starts; its observer hears of it only if it had been sent before. */
  cancel(call: PendingCall): void {
    if (!this.waiting.delete(call)) return;
    call.release();
    if (call.moves > 0) call.observer.error(new CancelledError('call cancelled'));
  }

  aborted(call: PendingCall): void {
    this.abandon(call, new CancelledError('call aborted', { cause: call.signal?.reason }));
  }

  expired(call: PendingCall): void {
    this.abandon(call, new DeadlineExceededError(call.budgetMs));
  }

  // A waiting call has no connection yet: nothing received to grant back, no reads to stop.
  // (A call moves back here only if it never reached a handler, so its stream holds no item.)
  grant(): void {}

  congest(): void {}

  relieve(): void {}

  private abandon(call: PendingCall, reason: Error): void {
    if (!this.waiting.delete(call)) return;
    call.release();
    this.fail(call, reason);
  }

  /** Fails a call that waited (from a timer, an abort listener, a connection event): a throwing observer fails only its own call. */
  private fail(call: PendingCall, reason: Error): void {
    try {
      call.observer.error(reason);
    } catch (err) {
      this.listener.onObserverError(new ObserverError(err));
    }
  }

  /**
   * Takes no new calls, waits up to `timeoutMs` for calls in flight to settle, then closes the
   * connections (calls still running fail with ERR_CONNECTION_CLOSED). Idempotent; a later
   * call or `ready()` reopens the channel (see `reopen`).
   */
  async close(timeoutMs: number): Promise<void> {
    const retired = this.shutdown();
    if (retired === undefined) return;
    // Each is shut down before its close() first waits.
    const closing = this.everySubchannel().map((subchannel) => subchannel.close(timeoutMs));
    this.forgetWhenClosed(retired);
    await Promise.all(closing);
  }

  /** Closes every connection at once, a graceful `close()` under way included; calls in flight fail with ERR_CONNECTION_CLOSED. */
  destroy(reason: Error | undefined): void {
    const retired = this.shutdown();
    for (const subchannel of this.everySubchannel()) subchannel.destroy(reason);
    if (retired !== undefined) this.forgetWhenClosed(retired);
  }

  /**
   * Enters 'closed' once: stops resolving, fails what waits (connect attempts under way are
   * given up: ERR_CLIENT_CLOSED), and moves every subchannel to `retiring` (the caller shuts
   * each down). Returns those subchannels; undefined if closed already.
   */
  private shutdown(): Subchannel[] | undefined {
    if (this.closed) return undefined;
    this.closed = true;
    this.active = false;
    // A resolution under way is given up: reopening asks the source again rather than waiting on it.
    this.epoch++;
    this.resolving = false;
    this.readyList = [];
    this.only = undefined;
    clearInterval(this.resolveTimer);
    this.resolveTimer = undefined;
    const retired = this.subchannels;
    this.subchannels = [];
    for (const subchannel of retired) this.retiring.add(subchannel);
    this.setStatus('closed');
    const closed = new ClientClosedError();
    this.failWaiters(() => closed, true);
    this.notifyWatchers();
    return retired;
  }

  /** Shut-down subchannels leave `retiring` once their last connection closed. */
  private forgetWhenClosed(retired: readonly Subchannel[]): void {
    for (const subchannel of retired) void subchannel.whenClosed().then(() => this.retiring.delete(subchannel));
  }

  /**
   * After close(), someone needs a session: starts over as a new channel would (nothing
   * failed yet), connecting at once: closed -> connecting. The endpoints are new subchannels
   * (a dynamic source is asked again); the ones close() shut down stay in `retiring` until
   * their calls finished, so destroy() still reaches them, and their late outcomes move nothing.
   */
  private reopen(): void {
    if (!this.closed) return;
    this.closed = false;
    this.failing = false;
    this.lastError = undefined;
    this.lastResolveAt = -Infinity;
    this.activate();
    const fixed = this.config.source.fixed;
    if (fixed !== undefined) this.apply(fixed);
  }

  private everySubchannel(): Subchannel[] {
    return [...this.subchannels, ...this.retiring];
  }

  /** Sends a call that never reached a handler again: on a ready session now, or once one is. */
  private reroute(call: PendingCall): boolean {
    if (this.closed || call.moves >= MAX_MOVES) return false;
    call.moves++;
    const session = this.pick(call.options);
    if (session !== undefined) session.adopt(call);
    else this.wait(call);
    return true;
  }

  private balance(options: CallOptions | undefined): ClientSession | undefined {
    const ready = this.readyList;
    const key = options?.affinityKey;
    const chosen = key === undefined ? this.picker(ready) : pickByAffinity(ready, key);
    const session = chosen.pick();
    if (session !== undefined) return session;
    // The chosen connection is closing and its subchannel has not heard yet: any other.
    for (const subchannel of ready) {
      const usable = subchannel.pick();
      if (usable !== undefined) return usable;
    }
    return undefined;
  }

  /** Someone needs a session: start resolving (once), and connect every subchannel that is not connecting or ready. */
  private kick(): void {
    if (this.closed) return;
    this.activate();
    for (const subchannel of this.subchannels) subchannel.connect();
  }

  private activate(): void {
    if (this.active) return;
    this.active = true;
    if (!this.config.source.dynamic) return;
    this.resolveNow();
    this.resolveTimer = setInterval(() => this.resolveNow(), this.config.resolveIntervalMs);
    this.resolveTimer.unref();
  }

  private onStateChange(subchannel: Subchannel): void {
    if (this.closed || !this.subchannels.includes(subchannel)) return;
    this.refreshReady();
    const state = subchannel.state;
    if (state === 'ready') {
      this.failing = false;
    } else if ((state === 'idle' || state === 'transient_failure') && subchannel.lastError !== undefined) {
      this.lastError = subchannel.lastError;
      this.resolveSoon();
    }
    this.updateStatus();
    if (state === 'ready') this.serveWaiters();
    this.settleHopeless();
    this.notifyWatchers();
  }

  private refreshReady(): void {
    this.readyList = this.subchannels.filter((subchannel) => subchannel.state === 'ready');
    this.only = this.readyList.length === 1 ? (this.readyList[0] as Subchannel).session : undefined;
  }

  /** Starts what waits, in arrival order, while sessions are ready. */
  private serveWaiters(): void {
    for (const call of [...this.waiting]) {
      const session = this.pick(call.options);
      if (session === undefined) return;
      this.waiting.delete(call);
      call.release();
      try {
        session.adopt(call);
      } catch (err) {
        // adopt() failed the call (its deadline passed, its metadata is invalid...) and its observer threw.
        this.listener.onObserverError(new ObserverError(err));
      }
    }
    while (this.requests.length > 0) {
      const session = this.pick();
      if (session === undefined) return;
      (this.requests.shift() as (typeof this.requests)[number]).resolve(session);
    }
  }

  /** Nothing ready, connecting or resolving: a round of attempts ended. Fails the waiters that do not wait through failures. */
  private settleHopeless(): void {
    if (this.closed || !this.active || this.resolving) return;
    for (const subchannel of this.subchannels) {
      if (subchannel.state === 'ready' || subchannel.state === 'connecting') return;
    }
    this.failing = true;
    const cause = this.lastError;
    const failure = cause ?? new NoReadyEndpointError(this.subchannels.length === 0 ? 'no endpoint to connect to' : undefined);
    this.failWaiters((call) => (call?.options?.waitForReady === false ? new NoReadyEndpointError(undefined, { cause }) : failure), false);
  }

  /** Fails every request and every waiting call (the patient ones too, if `all`) with `errorFor(call)`. */
  private failWaiters(errorFor: (call: PendingCall | undefined) => Error, all: boolean): void {
    for (const call of [...this.waiting]) {
      if (!all && call.patient) continue;
      this.waiting.delete(call);
      call.release();
      this.fail(call, errorFor(call));
    }
    const requests = this.requests;
    this.requests = [];
    for (const request of requests) request.reject(errorFor(undefined));
  }

  private keepConnecting(): boolean {
    if (this.persistent) return true;
    for (const call of this.waiting) if (call.patient) return true;
    return false;
  }

  private resolveSoon(): void {
    if (!this.active || !this.config.source.dynamic || performance.now() - this.lastResolveAt < MIN_RESOLVE_GAP_MS) return;
    this.resolveNow();
  }

  private resolveNow(): void {
    if (this.closed || this.resolving) return;
    this.resolving = true;
    this.lastResolveAt = performance.now();
    this.updateStatus();
    const epoch = this.epoch;
    this.config.source.resolve().then(
      (endpoints) => {
        if (epoch !== this.epoch) return;
        this.resolving = false;
        this.apply(endpoints);
      },
      (err: unknown) => {
        if (epoch !== this.epoch) return;
        this.resolving = false;
        if (this.closed) return;
        this.lastError = err as Error;
        this.listener.onError(err as Error);
        this.updateStatus();
        this.settleHopeless();
        this.notifyWatchers();
      },
    );
  }

  /**
   * The source's answer: keeps the subchannels of endpoints still named, adds (and, once the
   * channel is active, connects) those of new ones, and drains those of endpoints dropped.
   */
  private apply(endpoints: readonly ResolvedEndpoint[]): void {
    if (this.closed) return;
    // An empty answer is the answer (scaled to zero), not a failure: no older error explains it.
    if (endpoints.length === 0) this.lastError = undefined;
    const perEndpoint = this.config.connectionsPerEndpoint;
    const previous = new Map(this.subchannels.map((subchannel) => [subchannel.key, subchannel]));
    const next: Subchannel[] = [];
    const added: Subchannel[] = [];
    for (const endpoint of endpoints) {
      for (let index = 0; index < perEndpoint; index++) {
        const key = perEndpoint === 1 ? endpoint.key : `${endpoint.key}#${index}`;
        let subchannel = previous.get(key);
        if (subchannel === undefined) {
          subchannel = this.createSubchannel(endpoint, key);
          added.push(subchannel);
        } else {
          previous.delete(key);
        }
        next.push(subchannel);
      }
    }
    this.subchannels = next;
    this.refreshReady();
    for (const dropped of previous.values()) {
      this.retiring.add(dropped);
      void dropped.drain().then(() => this.retiring.delete(dropped));
    }
    if (this.active) for (const subchannel of added) subchannel.connect();
    this.updateStatus();
    this.settleHopeless();
    this.notifyWatchers();
  }

  private notifyWatchers(): void {
    if (this.watchers.size === 0) return;
    for (const watcher of [...this.watchers]) watcher();
  }

  private createSubchannel(endpoint: ResolvedEndpoint, key: string): Subchannel {
    return new Subchannel(key, endpoint.key, (events) => this.config.connect(endpoint, events), this.config.backoff?.(), this.subchannelListener);
  }

  private updateStatus(): void {
    if (!this.closed) this.setStatus(this.aggregate());
  }

  private aggregate(): ChannelState {
    let connecting = this.resolving && this.subchannels.length === 0;
    let failed = false;
    for (const subchannel of this.subchannels) {
      switch (subchannel.state) {
        case 'ready':
          return 'connected';
        case 'connecting':
          connecting = true;
          break;
        case 'transient_failure':
          failed = true;
          break;
        case 'idle':
        case 'shutdown':
          break;
      }
    }
    if (connecting) return 'connecting';
    return failed ? 'disconnected' : 'idle';
  }

  private setStatus(status: ChannelState): void {
    if (status === this.status) return;
    this.status = status;
    this.listener.onStatus(status);
  }
}
