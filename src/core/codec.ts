import type { OutboundBuffer } from './outbound-buffer.js';

/**
 * Returned by `Decoder.frameSize` while the frame's header is not complete, so its size is
 * not known yet.
 */
export const NEED_MORE = -1;

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
}

/** An encoder and a decoder that together speak one wire format. */
export interface Codec<In, Out> {
  readonly encoder: Encoder<Out>;
  readonly decoder: Decoder<In>;
}
