import { FrameTooLargeError, messageOf, type ProtocolError, ProtosocketError } from '../core/errors.js';

/** The call was cancelled: by its AbortSignal or unsubscribe on the client, or abandoned by the server. */
export class CancelledError extends ProtosocketError {
  static readonly code = 'ERR_CANCELLED';

  constructor(message = 'call cancelled', options?: { cause?: unknown }) {
    super(CancelledError.code, message, options);
  }
}

/** The call's deadline passed before it completed. */
export class DeadlineExceededError extends ProtosocketError {
  static readonly code = 'ERR_DEADLINE_EXCEEDED';

  constructor(timeoutMs: number) {
    super(DeadlineExceededError.code, `deadline of ${timeoutMs} ms exceeded`);
  }
}

/** The server answered with an error reply. `body` is the error body it sent, as decoded. */
export class RemoteError extends ProtosocketError {
  static readonly code = 'ERR_REMOTE';
  readonly body: unknown;

  constructor(body: unknown) {
    super(RemoteError.code, remoteMessage(body));
    this.body = body;
  }

  /** The `code` the server put in the error body, if any (for example `ERR_NO_HANDLER`). */
  get remoteCode(): string | undefined {
    const code = (this.body as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : undefined;
  }
}

/** Which of a pushed stream's buffer caps was passed (server options `maxBufferedItems`, `maxBufferedBytes`). */
export type BufferLimit = 'items' | 'bytes';

/**
 * A pushed stream produced faster than the client read it, and what the server held for it
 * passed a cap: `limit` says which, `max` is the cap (items, or approximate payload bytes).
 */
export class SlowConsumerError extends ProtosocketError {
  static readonly code = 'ERR_SLOW_CONSUMER';
  readonly limit: BufferLimit;
  readonly max: number;

  constructor(max: number, limit: BufferLimit = 'items') {
    const what = limit === 'items' ? `${max} stream items (maxBufferedItems)` : `${max} bytes of stream items (maxBufferedBytes)`;
    super(SlowConsumerError.code, `client is not keeping up: the server buffered more than ${what} for this call`);
    this.limit = limit;
    this.max = max;
  }
}

/**
 * A request arrived while its connection had `maxConcurrentCalls` calls running and the
 * requests already waiting for a slot filled `maxQueuedRequestBytes`. Sent to the client as an
 * error body; the connection and its other calls go on.
 */
export class TooManyCallsError extends ProtosocketError {
  static readonly code = 'ERR_TOO_MANY_CALLS';

  constructor(maxConcurrentCalls: number, maxQueuedRequestBytes: number) {
    super(
      TooManyCallsError.code,
      `too many calls on this connection: ${maxConcurrentCalls} running (maxConcurrentCalls) and ${maxQueuedRequestBytes} bytes of requests waiting (maxQueuedRequestBytes)`,
    );
  }
}

/**
 * Code of the caller's own observer threw (an observer passed to `RpcClient.open`, or what the
 * Nest client runs for a result: `serializeResponse`, a deserializer). That call fails with
 * this error (`cause`: what was thrown) and is cancelled; the connection and other calls go on.
 */
export class ObserverError extends ProtosocketError {
  static readonly code = 'ERR_OBSERVER';

  constructor(cause: unknown) {
    super(ObserverError.code, `a call's observer threw: ${messageOf(cause)}`, { cause });
  }
}

/** The connect attempt a call waited on was given up by `close()` or `destroy()`. */
export class ClientClosedError extends ProtosocketError {
  static readonly code = 'ERR_CLIENT_CLOSED';

  constructor() {
    super(ClientClosedError.code, 'client is closed');
  }
}

/**
 * No endpoint could take the call: none is ready and the call does not wait for one
 * (`waitForReady: false`), or the endpoints' list is empty. `cause` holds the last connection
 * or resolution error, if any.
 */
export class NoReadyEndpointError extends ProtosocketError {
  static readonly code = 'ERR_NO_READY_ENDPOINT';

  constructor(message = 'no endpoint is ready', options?: { cause?: unknown }) {
    super(NoReadyEndpointError.code, message, options);
  }
}

/** The server shut down before the call finished (it outlived the drain timeout). A handler's `signal.reason`. */
export class ShuttingDownError extends ProtosocketError {
  static readonly code = 'ERR_SHUTTING_DOWN';

  constructor() {
    super(ShuttingDownError.code, 'server shutting down');
  }
}

/** A request named a pattern the server has no handler for. Sent to the client as an error body. */
export class NoHandlerError extends ProtosocketError {
  static readonly code = 'ERR_NO_HANDLER';

  constructor(pattern: string) {
    super(NoHandlerError.code, `no handler for pattern ${pattern}`);
  }
}

/** A request reused the id of a call still in flight on its connection. Sent to the client as an error body. */
export class DuplicateCallIdError extends ProtosocketError {
  static readonly code = 'ERR_DUPLICATE_ID';

  constructor(id: number) {
    super(DuplicateCallIdError.code, `call id ${id} is already in flight`);
  }
}

/**
 * An RpcServer method called in a state that does not allow it: `listen` twice or after `close`,
 * `unwrap` before `listen` (also ProtosocketServer's `unwrap`).
 */
export class ServerStateError extends ProtosocketError {
  static readonly code = 'ERR_SERVER_STATE';

  constructor(message: string) {
    super(ServerStateError.code, message);
  }
}

/**
 * The peer sent nothing at all (not a Pong, not any frame) for a keepalive interval and the
 * timeout after the Ping that followed it: the connection is closed with this reason, and the
 * calls in flight on it fail with it (a handler's `signal.reason` on the server).
 */
export class PeerUnresponsiveError extends ProtosocketError {
  static readonly code = 'ERR_PEER_UNRESPONSIVE';

  constructor(silentMs: number) {
    super(PeerUnresponsiveError.code, `peer sent nothing for ${silentMs} ms, a Ping included`);
  }
}

/**
 * A draining server (it sent GoAway on the connection) refused the request: it never reached a
 * handler, so it is safe to send again on another connection. Sent to the client as an error body.
 */
export class RefusedError extends ProtosocketError {
  static readonly code = 'ERR_REFUSED';

  constructor() {
    super(RefusedError.code, 'server is draining this connection: the call never reached a handler and is safe to retry');
  }
}

/**
 * A request frame was intact but its content was not (metadata that is not string to string, a
 * payload the codec cannot decode): that call fails, the connection goes on. Sent to the
 * client as an error body.
 */
export class BadRequestError extends ProtosocketError {
  static readonly code = 'ERR_BAD_REQUEST';

  constructor(cause: ProtocolError) {
    super(BadRequestError.code, `bad request: ${cause.message}`, { cause });
  }
}

/**
 * A request frame was over the server's maxFrameBytes: its body was skipped unread and only
 * that call fails. Sent to the client as an error body (code ERR_FRAME_TOO_LARGE, as the
 * connection-level FrameTooLargeError).
 */
export class RequestTooLargeError extends ProtosocketError {
  static readonly code = FrameTooLargeError.code;
  readonly size: number;
  readonly limit: number;

  constructor(size: number, limit: number) {
    super(RequestTooLargeError.code, `request frame of ${size} bytes exceeds the server's maxFrameBytes (${limit}); its body was skipped`);
    this.size = size;
    this.limit = limit;
  }
}

/** A call or event was given metadata that is not string to string; the message names the key. Nothing was sent. */
export class InvalidMetadataError extends ProtosocketError {
  static readonly code = 'ERR_INVALID_METADATA';

  constructor(problem: string) {
    super(InvalidMetadataError.code, problem);
  }
}

/**
 * Something the connection's wire profile has no form for: a Ping, an event or GoAway towards
 * a protosocket-rpc peer, or a codec without a protosocket-rpc form (docs/PROTOCOL.md §12).
 */
export class UnsupportedByProfileError extends ProtosocketError {
  static readonly code = 'ERR_UNSUPPORTED_BY_PROFILE';

  constructor(message: string) {
    super(UnsupportedByProfileError.code, message);
  }
}

/** Codes the server puts in error bodies it generates itself (not thrown by a handler). */
export const ServerErrorCode = {
  /** No handler for the request's pattern. */
  NoHandler: NoHandlerError.code,
  /** The request reused the id of a call still in flight on that connection. */
  DuplicateId: DuplicateCallIdError.code,
  /** The server is shutting down and the call did not finish within the drain timeout. */
  ShuttingDown: ShuttingDownError.code,
  /** The request arrived after the server sent GoAway on its connection: it never reached a handler and is safe to retry. */
  Refused: RefusedError.code,
  DeadlineExceeded: DeadlineExceededError.code,
  SlowConsumer: SlowConsumerError.code,
  /** The request frame was intact but its content was not (metadata, a payload the codec cannot decode). */
  BadRequest: BadRequestError.code,
  /** The request frame was over the server's maxFrameBytes; its body was skipped unread. */
  FrameTooLarge: RequestTooLargeError.code,
  /** The connection was at `maxConcurrentCalls` and its queue of waiting requests was full. */
  TooManyCalls: TooManyCallsError.code,
} as const;

function remoteMessage(body: unknown): string {
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : 'remote call failed';
}
