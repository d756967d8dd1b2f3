import type { OutboundBuffer } from './outbound-buffer.js';

/**
 * Returned by `Decoder.frameSize` while the frame's header is not complete, so its size is
 * not known yet.
 */
export const NEED_MORE = -1;

/**
 * `Decoder.peekId` is given at least this many bytes from the start of a frame (or the whole
 * frame, if shorter): the id of an oversized frame must be readable from a bounded prefix.
 */
export const PEEK_PREFIX_BYTES = 64;

/**
 * Turns one outbound message into bytes appended to `out`.
 *
 * Encoders write straight into the connection's batch buffer: small frames from one tick are
 * gathered into one allocation, and large byte payloads passed to `out.writeBytes` are queued
 * by reference, never copied. A throw leaves nothing of the message queued.
 */
export interface Encoder<T> {
  encode(message: T, out: OutboundBuffer): void;
}

/**
 * Reads frames from the front of the connection's read buffer. The connection owns the buffer
 * and calls the decoder in two steps:
 *
 *   frameSize(buf, start, end)  -> NEED_MORE        header incomplete: wait for more bytes
 *                               -> n                the frame at `start` is n bytes long
 *                                                   (if fewer are buffered, n is the size hint
 *                                                   used to assemble the frame in one buffer)
 *                               -> throws           bytes that can never become a frame
 *   decode(buf, start, start+n) -> the message      called only once all n bytes are present
 *
 * Both must look only at `buf[start, end)` and keep no per-connection state, so one decoder
 * can serve every connection. `n` is checked against `maxFrameBytes` before any byte of the
 * body is buffered. A decoded message may keep views into `buf`: the connection never reuses
 * memory that a delivered message could reference.
 */
export interface Decoder<T> {
  frameSize(buffer: Buffer, start: number, end: number): number;
  decode(buffer: Buffer, start: number, end: number): T;
  /**
   * Optional: the id of the call the frame at `start` belongs to, read from `buf[start, end)`,
   * the frame's first bytes (at least `PEEK_PREFIX_BYTES` of them, or the whole frame); or
   * undefined when these bytes do not tell. With it, a frame over `maxFrameBytes` is skipped
   * as it arrives (never buffered) and reported to the reactor's `onFrameSkipped` with this
   * id, so only that call fails; without it, such a frame closes the connection.
   */
  peekId?(buffer: Buffer, start: number, end: number): number | undefined;
}

/** An encoder and a decoder that together speak one wire format. */
export interface Codec<In, Out> {
  readonly encoder: Encoder<Out>;
  readonly decoder: Decoder<In>;
}
