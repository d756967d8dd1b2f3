import { NEED_MORE } from './codec.js';
import type { OutboundBuffer } from './outbound-buffer.js';

/**
 * Length-prefixed framing: a u32 big-endian count of the body's bytes, then the body.
 *
 *   +----------------+------------------------+
 *   | length: u32 BE | body: `length` bytes    |
 *   +----------------+------------------------+
 *
 * Codecs build on these helpers and only deal with bodies.
 */
export const LENGTH_PREFIX_BYTES = 4;

/** Frame size (prefix included) of the frame at `start`, or NEED_MORE while the prefix is incomplete. */
export function lengthPrefixedFrameSize(buffer: Buffer, start: number, end: number): number {
  if (end - start < LENGTH_PREFIX_BYTES) return NEED_MORE;
  return LENGTH_PREFIX_BYTES + buffer.readUInt32BE(start);
}

/** Writes one frame whose body is produced by `writeBody`. */
export function writeLengthPrefixed<T>(out: OutboundBuffer, value: T, writeBody: (value: T, out: OutboundBuffer) => void): void {
  out.beginFrame(LENGTH_PREFIX_BYTES);
  writeBody(value, out);
  out.endFrame(writeLengthPrefix);
}

function writeLengthPrefix(buffer: Buffer, offset: number, bodyLength: number): void {
  buffer.writeUInt32BE(bodyLength, offset);
}
