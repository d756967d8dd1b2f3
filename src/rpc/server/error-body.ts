import { EncodeError, FrameTooLargeError } from '../../core/errors.js';
import { RefusedError } from '../errors.js';
import { ControlCode } from '../wire/control-code.js';
import type { RpcFrame } from '../wire/frame.js';

/** Turns an error into the body of an Error frame: the server's `serializeError` option. */
export type SerializeError = (err: unknown) => unknown;

/** Where Error frames go: the session's connection, with the server's `serializeError`. */
export interface ErrorFrameSink {
  /** Queues a frame; throws EncodeError / FrameTooLargeError when it cannot be encoded (nothing is queued then). */
  send(frame: RpcFrame): void;
  readonly serializeError: SerializeError;
}

/**
 * Queues the Error frame of call `id` for `err`. Every Error frame the server sends is built
 * here, whether a handler threw `err` or the transport raised it (ERR_SHUTTING_DOWN,
 * ERR_NO_HANDLER, ERR_DUPLICATE_ID, ERR_DEADLINE_EXCEEDED, ERR_SLOW_CONSUMER, and the
 * EncodeError / FrameTooLargeError of a frame that could not be encoded): the body is
 * `serializeError(err)`. When that body cannot be encoded either, the encoding error's own
 * name, code and message are sent instead, which always can be: this runs inside a reactor or
 * a promise handler, where a throw would take down the connection or go unhandled.
 */
export function sendError(out: ErrorFrameSink, id: number, err: unknown): void {
  try {
    out.send({ id, code: ControlCode.Error, data: out.serializeError(err) });
  } catch (failure) {
    if (!isEncodeFailure(failure)) throw failure;
    out.send({ id, code: ControlCode.Error, data: { name: failure.name, code: failure.code, message: failure.message } });
  }
}

const refused = new RefusedError();
/** Fixed, and built once: any codec can encode it. */
const REFUSED_BODY = Object.freeze({ name: refused.name, code: refused.code, message: refused.message });

/**
 * The Error frame that refuses request `id` on a connection the server sent GoAway on. Its body
 * is always `{ name, code: 'ERR_REFUSED', message }`, not what `serializeError` makes: clients
 * retry such a call transparently on its code, so no serializer may lose it.
 */
export function refusal(id: number): RpcFrame {
  return { id, code: ControlCode.Error, data: REFUSED_BODY };
}

/** The frame could not be encoded: the codec refused it or it is over `maxFrameBytes`. Nothing of it was queued. */
export function isEncodeFailure(err: unknown): err is EncodeError | FrameTooLargeError {
  return err instanceof EncodeError || err instanceof FrameTooLargeError;
}
