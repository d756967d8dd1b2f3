/**
 * Every error this package raises is a `ProtosocketError` with a stable string `code`.
 * Match on `err.code`, never on the message text. The README lists every code.
 */
export class ProtosocketError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An inbound frame announced more bytes than `maxFrameBytes`, or an outbound message encoded to more. */
export class FrameTooLargeError extends ProtosocketError {
  static readonly code = 'ERR_FRAME_TOO_LARGE';
  readonly size: number;
  readonly limit: number;

  constructor(size: number, limit: number, direction: 'inbound' | 'outbound') {
    super(FrameTooLargeError.code, `${direction} frame of ${size} bytes exceeds maxFrameBytes (${limit})`);
    this.size = size;
    this.limit = limit;
  }
}

/** The peer left a frame incomplete for longer than `frameTimeoutMs`. */
export class FrameTimeoutError extends ProtosocketError {
  static readonly code = 'ERR_FRAME_TIMEOUT';

  constructor(timeoutMs: number, buffered: number) {
    super(FrameTimeoutError.code, `no frame completed within ${timeoutMs} ms while ${buffered} bytes of one were buffered`);
  }
}

/**
 * The listener's connections together buffered more partial-frame bytes than
 * `maxInboundBytes`; the connection holding the largest partial frame was closed with this.
 */
export class InboundBudgetError extends ProtosocketError {
  static readonly code = 'ERR_INBOUND_BUDGET';
  /** Bytes this connection held when it was closed. */
  readonly held: number;
  readonly limit: number;

  constructor(held: number, total: number, limit: number) {
    super(
      InboundBudgetError.code,
      `inbound budget exceeded: connections buffered ${total} bytes of partial frames, over maxInboundBytes (${limit}); closed the one holding the most (${held} bytes)`,
    );
    this.held = held;
    this.limit = limit;
  }
}

/** The peer sent bytes that can never become a valid frame, or broke a protocol rule. */
export class ProtocolError extends ProtosocketError {
  static readonly code = 'ERR_PROTOCOL';

  constructor(message: string, options?: { cause?: unknown }) {
    super(ProtocolError.code, message, options);
  }
}

/** The connection is closed (or closing) and cannot carry the operation; `cause` holds why it closed. */
export class ConnectionClosedError extends ProtosocketError {
  static readonly code = 'ERR_CONNECTION_CLOSED';

  constructor(message = 'connection closed', options?: { cause?: unknown }) {
    super(ConnectionClosedError.code, message, options);
  }
}

/** `send` was refused because the outbound queue already holds `maxQueuedBytes`. */
export class QueueFullError extends ProtosocketError {
  static readonly code = 'ERR_QUEUE_FULL';

  constructor(queued: number, limit: number) {
    super(QueueFullError.code, `outbound queue holds ${queued} bytes, at or above maxQueuedBytes (${limit})`);
  }
}

/**
 * An outbound message could not be encoded: the encoder threw (`cause` holds what it threw), or
 * it refused a message no peer would accept (`EncodeError.withReason`). Nothing of that message
 * was queued.
 */
export class EncodeError extends ProtosocketError {
  static readonly code = 'ERR_ENCODE';

  constructor(cause: unknown, reason: string = messageOf(cause)) {
    super(EncodeError.code, `encoder failed: ${reason}`, { cause });
  }

  /** For an encoder that refuses a message itself (an id out of range, a route too long): no cause, just why. */
  static withReason(reason: string): EncodeError {
    return new EncodeError(undefined, reason);
  }
}

/** The reactor threw while handling an inbound message; the connection is destroyed with this error. */
export class ReactorError extends ProtosocketError {
  static readonly code = 'ERR_REACTOR';

  constructor(cause: unknown) {
    super(ReactorError.code, `reactor failed: ${messageOf(cause)}`, { cause });
  }
}

/** Connecting did not complete within `connectTimeoutMs`. */
export class ConnectTimeoutError extends ProtosocketError {
  static readonly code = 'ERR_CONNECT_TIMEOUT';

  constructor(timeoutMs: number) {
    super(ConnectTimeoutError.code, `connect did not complete within ${timeoutMs} ms`);
  }
}

/** An option passed to a constructor or factory is out of range or of the wrong type. `option` names it. */
export class InvalidOptionError extends ProtosocketError {
  static readonly code = 'ERR_INVALID_OPTION';
  readonly option: string;

  constructor(option: string, message: string) {
    super(InvalidOptionError.code, message);
    this.option = option;
  }
}

/** The text of a thrown value, for messages that wrap it. */
export function messageOf(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}
