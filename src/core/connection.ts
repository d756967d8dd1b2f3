import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Decoder, Encoder } from './codec.js';
import { connectionCloseChannel, frameErrorChannel, publishConnectionClose, publishIfFrameError } from './diagnostics.js';
import {
  ConnectionClosedError,
  EncodeError,
  FrameTimeoutError,
  FrameTooLargeError,
  ProtocolError,
  ProtosocketError,
  QueueFullError,
  ReactorError,
} from './errors.js';
import { FrameReader, INCOMPLETE, OversizedFrame } from './frame-reader.js';
import type { InboundBudget } from './inbound-budget.js';
import { type ConnectionLimits, type ResolvedLimits, type SocketOptions, resolveLimits } from './options.js';
import { OutboundBuffer } from './outbound-buffer.js';

/**
 * Receives a connection's inbound messages. `onMessage` runs synchronously, in arrival order,
 * once per decoded message; the reactor's state is its own (one reactor per connection).
 * A throw destroys the connection with `ERR_REACTOR`.
 */
export interface Reactor<In> {
  /** `bytes`: the message's encoded size, as read from the stream (header included). */
  onMessage(message: In, bytes: number): void;
  /**
   * The peer finished sending (it half-closed: TCP FIN) while the connection was open. Return
   * a promise to keep our side open, still sending, until it settles (the reactor bounds how
   * long); the connection then closes gracefully. Without this hook, or returning undefined,
   * our side ends as soon as what is queued is written.
   */
  onPeerEnd?(): Promise<void> | undefined;
  /** Called once when the connection has closed; `reason` is undefined for a clean close. */
  onClose?(reason: Error | undefined): void;
  /**
   * A frame over `maxFrameBytes` whose id the decoder could read (`Decoder.peekId`) is being
   * skipped: its bytes are discarded as they arrive, and the connection goes on. Without this
   * hook, or when the id cannot be read, such a frame closes the connection with
   * `ERR_FRAME_TOO_LARGE`, as does the `MAX_OVERSIZED_IN_A_ROW`th oversized frame in a row.
   */
  onFrameSkipped?(frame: OversizedFrame): void;
}

/**
 * A peer whose frames are all over maxFrameBytes is misconfigured or hostile: after this many
 * in a row (no frame of an acceptable size between them), its connection is closed.
 */
export const MAX_OVERSIZED_IN_A_ROW = 16;

/** An outbound scratch buffer unused for this long is released (an idle connection holds none). */
const OUTBOUND_IDLE_MS = 1000;

export type ReactorFactory<In, Out> = (connection: Connection<In, Out>) => Reactor<In>;

export interface ConnectionOptions<In, Out> extends SocketOptions {
  encoder: Encoder<Out>;
  decoder: Decoder<In>;
  reactor: ReactorFactory<In, Out>;
  limits?: ConnectionLimits;
}

/**
 *   OPEN ──close() / peer's FIN──> CLOSING ──socket closed──> CLOSED
 *     └──────────destroy(err) / error / reset──────┘
 *
 * OPEN: sends and receives. CLOSING: `send` refuses; what was queued is written, then the
 * stream is ended; inbound messages are still delivered. CLOSED: final. After the peer's FIN
 * a reactor with `onPeerEnd` keeps the connection OPEN (sending only) until its promise
 * settles, then it closes as by `close()`.
 */
export type ConnectionState = 'open' | 'closing' | 'closed';

export interface ConnectionEvents {
  /** Queued bytes fell back under the high-water mark after `send` returned false. */
  drain: [];
  close: [reason: Error | undefined];
}

/**
 * A framed, message-oriented connection over any byte stream (TCP, TLS, Unix socket, or an
 * in-memory Duplex in tests).
 *
 * Outbound: `send` encodes into a batch; the first send of a tick schedules one flush on
 * `process.nextTick`, so everything sent in that tick leaves in one write (one `writev` when
 * large payloads are referenced). A batch over `flushBytes` flushes at once. While the socket
 * reports backpressure the batch keeps growing in our buffer (still counted and capped) and
 * is written on the socket's `drain`.
 *
 * Inbound: chunks go through a `FrameReader`; messages reach the reactor synchronously.
 * `pauseReading` stops delivery between two messages and stops reading the socket, so TCP
 * pushes back on the peer.
 */
export class Connection<In = unknown, Out = unknown> extends EventEmitter<ConnectionEvents> {
  readonly limits: ResolvedLimits;
  /** Resolves once closed, with the reason (undefined when clean). Never rejects. */
  readonly closed: Promise<Error | undefined>;

  private _state: ConnectionState = 'open';
  private readonly socket: Duplex;
  private readonly encoder: Encoder<Out>;
  private readonly reader: FrameReader<In>;
  private readonly budget: InboundBudget | undefined;
  /** What `budget` was last told this connection holds. */
  private charged = 0;
  private oversizedInARow = 0;
  // Outbound scratch release: armed after a flush while a scratch is allocated; see onIdleTimer.
  private idleTimer: NodeJS.Timeout | undefined;
  private flushes = 0;
  private flushesAtIdleArm = 0;
  private readonly reactor: Reactor<In>;
  private readonly out = new OutboundBuffer();
  private flushScheduled = false;
  private socketBlocked = false;
  private drainWanted = false;
  private readPaused = false;
  /** The socket is paused: set by pauseReading, cleared once the reader ran dry after a resume. */
  private socketPaused = false;
  // Stalled-frame detection: armed while part of a frame is buffered; see onFrameTimer.
  private frameTimer: NodeJS.Timeout | undefined;
  private framesDelivered = 0;
  private framesAtArm = 0;
  // Totals for telemetry (the `bytesSent`... getters): plain increments, read only on collection.
  private sentBytes = 0;
  private sentFrames = 0;
  private receivedBytes = 0;
  private closeReason: Error | undefined;
  private resolveClosed!: (reason: Error | undefined) => void;
  private drainWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];

  /** `budget`: the listener's shared inbound accounting (accepted connections only). */
  constructor(socket: Duplex, options: ConnectionOptions<In, Out>, budget?: InboundBudget) {
    super();
    this.socket = socket;
    this.limits = resolveLimits(options.limits);
    this.encoder = options.encoder;
    this.budget = budget;
    this.reader = new FrameReader(options.decoder, this.limits.maxFrameBytes);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    configureSocket(socket, options);

    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.onSocketDrain());
    socket.on('error', (err: Error) => this.destroy(err));
    socket.on('close', () => this.onSocketClose());

    this.reactor = options.reactor(this);
    if (socket.destroyed) {
      // Its 'close' may already have been emitted, so do not wait for it: close on the next
      // tick (onSocketClose runs once), after the caller has the connection.
      this.closeReason = new ConnectionClosedError('socket was already destroyed');
      this._state = 'closing';
      process.nextTick(() => this.onSocketClose());
    }
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** Bytes waiting to be written: this tick's batch plus the socket's own buffer. */
  get queuedBytes(): number {
    return this.out.length + this.socket.writableLength;
  }

  /** False once queued bytes reach the high-water mark; `waitForDrain` tells when to go on. */
  get writable(): boolean {
    return this._state === 'open' && this.queuedBytes < this.limits.highWaterMark;
  }

  /** Encoded bytes of the frames queued for sending since the connection opened. */
  get bytesSent(): number {
    return this.sentBytes;
  }

  get framesSent(): number {
    return this.sentFrames;
  }

  /** Bytes read from the socket since the connection opened. */
  get bytesReceived(): number {
    return this.receivedBytes;
  }

  /** Frames decoded and delivered to the reactor. */
  get framesReceived(): number {
    return this.framesDelivered;
  }

  get remoteAddress(): string | undefined {
    return (this.socket as { remoteAddress?: string }).remoteAddress;
  }

  get remotePort(): number | undefined {
    return (this.socket as { remotePort?: number }).remotePort;
  }

  /**
   * How many batches have been handed to the socket so far. A message sent while this reads n
   * never reached the socket if it still reads n when the connection closes: `destroy` drops
   * the unwritten batch. (The client retries such calls elsewhere: they provably never left.)
   * @internal
   */
  get batchesWritten(): number {
    return this.flushes;
  }

  /** The underlying stream, for options this class does not cover. */
  unwrap(): Duplex {
    return this.socket;
  }

  /**
   * Queues `message` for this tick's batch. Returns whether queued bytes are still under the
   * high-water mark. Throws `ERR_CONNECTION_CLOSED` unless open, `ERR_QUEUE_FULL` at the
   * queue cap, `ERR_ENCODE` if the encoder throws and `ERR_FRAME_TOO_LARGE` for a frame over
   * `maxFrameBytes`; after a throw nothing of the message is queued.
   */
  send(message: Out): boolean {
    if (this._state !== 'open') throw new ConnectionClosedError(`cannot send: connection is ${this._state}`, { cause: this.closeReason });
    const queued = this.queuedBytes;
    if (queued >= this.limits.maxQueuedBytes) throw new QueueFullError(queued, this.limits.maxQueuedBytes);

    const out = this.out;
    out.mark();
    try {
      this.encoder.encode(message, out);
    } catch (err) {
      out.rewind();
      throw err instanceof ProtosocketError ? err : new EncodeError(err);
    }
    const frameBytes = out.sinceMark();
    if (frameBytes > this.limits.maxFrameBytes) {
      out.rewind();
      throw new FrameTooLargeError(frameBytes, this.limits.maxFrameBytes, 'outbound');
    }
    this.sentFrames++;
    this.sentBytes += frameBytes;

    if (out.length >= this.limits.flushBytes) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(flushOnTick, this);
    }
    // Counted before a possible flush moved the batch into the socket's buffer: the same bytes.
    if (queued + frameBytes < this.limits.highWaterMark) return true;
    this.drainWanted = true;
    return false;
  }

  /** Resolves when queued bytes are under the high-water mark; rejects if the connection closes first. */
  waitForDrain(): Promise<void> {
    if (this._state !== 'open') return Promise.reject(new ConnectionClosedError('connection closed', { cause: this.closeReason }));
    if (this.queuedBytes < this.limits.highWaterMark) return Promise.resolve();
    this.drainWanted = true;
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  /** Stops delivering messages (after the current one) and stops reading the socket. */
  pauseReading(): void {
    if (this.readPaused) return;
    this.readPaused = true;
    if (!this.socketPaused) {
      this.socketPaused = true;
      this.socket.pause();
    }
  }

  /**
   * Delivers what was buffered while paused, then reads the socket again. The socket resumes
   * only once the buffered messages are delivered, so a reactor that pauses again meanwhile
   * lets no new chunk in: what a paused connection holds stays bounded.
   */
  resumeReading(): void {
    if (!this.readPaused) return;
    this.readPaused = false;
    if (this._state === 'closed') return;
    // Outside the caller's stack: the caller may be the reactor itself.
    process.nextTick(() => this.deliver());
  }

  get readingPaused(): boolean {
    return this.readPaused;
  }

  /**
   * Graceful: refuses new sends, writes everything queued, then ends the stream. Resolves
   * when the connection is closed. Idempotent.
   */
  close(): Promise<Error | undefined> {
    if (this._state === 'open') {
      this._state = 'closing';
      this.flush();
      this.endIfFlushed();
    }
    return this.closed;
  }

  /** Abortive: drops what is queued and closes at once, with `reason`. Idempotent. */
  destroy(reason?: Error): void {
    if (this._state === 'closed' || this.socket.destroyed) {
      this.closeReason ??= reason;
      return;
    }
    this.closeReason ??= reason;
    if (frameErrorChannel.hasSubscribers) publishIfFrameError(this, reason);
    this._state = 'closing';
    this.out.take();
    // Nothing more is delivered: what the reader holds is freed now, not at 'close'.
    this.reader.clear();
    this.chargeBudget();
    this.socket.destroy();
  }

  /** Writes the current batch now. Called on the tick after the first send, or early when full. */
  flush(): void {
    this.flushScheduled = false;
    if (this.socketBlocked || this.out.length === 0 || this.socket.destroyed) return;
    const segments = this.out.take();
    this.flushes++;
    this.armIdleTimer();
    const last = segments.length - 1;
    // The last write's result covers the whole batch. Its callback runs once the batch is
    // written: the socket emits 'drain' only after refusing a write, so when it accepts the
    // batch this callback is what tells a waiting producer that the queue went down.
    let accepted: boolean;
    if (last === 0) {
      accepted = this.socket.write(segments[0], this.onBatchWritten);
    } else {
      // Corked writes reach the socket as one writev.
      this.socket.cork();
      for (let index = 0; index < last; index++) this.socket.write(segments[index]);
      accepted = this.socket.write(segments[last], this.onBatchWritten);
      this.socket.uncork();
    }
    if (!accepted) this.socketBlocked = true;
  }

  private onData(chunk: Buffer): void {
    this.receivedBytes += chunk.length;
    this.reader.push(chunk);
    this.deliver();
  }

  private deliver(): void {
    this.deliverMessages();
    this.chargeBudget();
  }

  private deliverMessages(): void {
    const reader = this.reader;
    while (!this.readPaused && this._state !== 'closed' && !this.socket.destroyed) {
      let message: In | OversizedFrame | typeof INCOMPLETE;
      // A read consumes exactly one frame's bytes: the difference is the frame's size.
      const bufferedBefore = reader.buffered;
      try {
        message = reader.readOrSkip();
      } catch (err) {
        this.destroy(err instanceof Error ? err : new ProtocolError(String(err)));
        return;
      }
      if (message === INCOMPLETE) {
        if (this.socketPaused) {
          this.socketPaused = false;
          this.socket.resume();
        }
        if (reader.buffered > 0) this.armFrameTimer();
        return;
      }
      this.framesDelivered++;
      if (message instanceof OversizedFrame) {
        this.onOversized(message);
        continue;
      }
      this.oversizedInARow = 0;
      try {
        this.reactor.onMessage(message, bufferedBefore - reader.buffered);
      } catch (err) {
        this.destroy(new ReactorError(err));
        return;
      }
    }
  }

  private onOversized(frame: OversizedFrame): void {
    if (this.reactor.onFrameSkipped === undefined || ++this.oversizedInARow >= MAX_OVERSIZED_IN_A_ROW) {
      this.destroy(new FrameTooLargeError(frame.size, frame.limit, 'inbound'));
      return;
    }
    try {
      this.reactor.onFrameSkipped?.(frame);
    } catch (err) {
      this.destroy(new ReactorError(err));
    }
  }

  /** Tells the listener's budget what the reader holds now; the budget may close a connection (this one or another). */
  private chargeBudget(): void {
    const budget = this.budget;
    if (budget === undefined) return;
    const held = this._state === 'closed' || this.socket.destroyed ? 0 : this.reader.buffered;
    if (held === this.charged) return;
    this.charged = held;
    budget.charge(this, held);
  }

  private armIdleTimer(): void {
    if (this.idleTimer !== undefined) return;
    this.flushesAtIdleArm = this.flushes;
    this.idleTimer = setTimeout(this.onIdleTimer, OUTBOUND_IDLE_MS);
    this.idleTimer.unref();
  }

  /** Releases the outbound scratch of a connection that wrote nothing for OUTBOUND_IDLE_MS. */
  private readonly onIdleTimer = (): void => {
    this.idleTimer = undefined;
    if (this._state === 'closed') return;
    if (this.flushes !== this.flushesAtIdleArm) {
      this.armIdleTimer();
      return;
    }
    this.out.release();
  };

  private armFrameTimer(): void {
    if (this.frameTimer !== undefined) return;
    this.framesAtArm = this.framesDelivered;
    this.frameTimer = setTimeout(this.onFrameTimer, this.limits.frameTimeoutMs);
    this.frameTimer.unref();
  }

  /**
   * Closes a connection whose peer stalled mid-frame. A frame completed since the timer was
   * armed, or reading paused by us, is not the peer's stall: the timer is armed again.
   */
  private readonly onFrameTimer = (): void => {
    this.frameTimer = undefined;
    const buffered = this.reader.buffered;
    if (this._state === 'closed' || buffered === 0) return;
    if (this.readPaused || this.framesDelivered !== this.framesAtArm) {
      this.armFrameTimer();
      return;
    }
    this.destroy(new FrameTimeoutError(this.limits.frameTimeoutMs, buffered));
  };

  private onEnd(): void {
    // The peer finished sending. A reactor may still owe it replies: our side stays open until
    // it says it is done. Otherwise (or once it is) finish our side too, after what is queued.
    if (this._state === 'open' && this.reader.buffered === 0) {
      let owed: Promise<void> | undefined;
      try {
        owed = this.reactor.onPeerEnd?.();
      } catch (err) {
        this.destroy(new ReactorError(err));
        return;
      }
      if (owed !== undefined) {
        const close = (): void => void this.close();
        owed.then(close, close);
        return;
      }
    }
    if (this._state === 'open') this._state = 'closing';
    this.flush();
    this.endIfFlushed();
  }

  private onSocketDrain(): void {
    this.socketBlocked = false;
    this.flush();
    this.endIfFlushed();
    this.emitDrainIfWanted();
  }

  private readonly onBatchWritten = (): void => this.emitDrainIfWanted();

  /**
   * Wakes producers once queued bytes are back under the high-water mark. Runs on the socket's
   * 'drain' (after a refused write) and when an accepted batch has been written: while bytes
   * are queued one of the two is always pending, so a waiting producer is always woken.
   */
  private emitDrainIfWanted(): void {
    if (!this.drainWanted || this._state !== 'open' || this.queuedBytes >= this.limits.highWaterMark) return;
    this.drainWanted = false;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter.resolve();
    this.emit('drain');
  }

  private endIfFlushed(): void {
    if (this._state === 'closing' && this.out.length === 0 && !this.socketBlocked && !this.socket.writableEnded) {
      this.socket.end();
    }
  }

  private onSocketClose(): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    clearTimeout(this.frameTimer);
    clearTimeout(this.idleTimer);
    this.reader.clear();
    this.chargeBudget();
    this.out.take();
    this.out.release();
    const reason = this.closeReason;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter.reject(new ConnectionClosedError('connection closed', { cause: reason }));
    try {
      this.reactor.onClose?.(reason);
    } finally {
      if (connectionCloseChannel.hasSubscribers) publishConnectionClose(this, reason);
      this.emit('close', reason);
      this.resolveClosed(reason);
    }
  }
}

function flushOnTick(connection: Connection<unknown, unknown>): void {
  connection.flush();
}

function configureSocket(socket: Duplex, options: SocketOptions): void {
  const tcp = socket as Partial<{
    setNoDelay(noDelay: boolean): void;
    setKeepAlive(enable: boolean, initialDelay?: number): void;
  }>;
  tcp.setNoDelay?.(options.noDelay ?? true);
  const keepAlive = options.keepAlive ?? false;
  if (keepAlive !== false) tcp.setKeepAlive?.(true, keepAlive === true ? 0 : keepAlive);
}
