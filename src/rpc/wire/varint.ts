import { NEED_MORE } from '../../core/codec.js';
import { ProtocolError } from '../../core/errors.js';
import type { OutboundBuffer } from '../../core/outbound-buffer.js';

/**
 * Protobuf's length delimiter: the body's byte count as an unsigned LEB128 varint, 7 bits per
 * byte, least significant group first, the high bit set on every byte but the last.
 *
 *   300 -> 0b1_0010_1100 -> [1010_1100] [0000_0010] -> AC 02
 *
 * A u64 takes at most 10 bytes, and the 10th can only hold one bit.
 */
export const MAX_VARINT_BYTES = 10;

/**
 * Size of the length-delimited frame at `start` (delimiter plus body), or NEED_MORE while the
 * delimiter is incomplete.
 *
 * Unlike protosocket-prost, which treats every varint error as "need more bytes" (a corrupt
 * delimiter then parks or spins the connection for ever), a delimiter that can never end is a
 * protocol error at once: ten bytes without a terminator, a 10th byte above 1 (more than 64
 * bits), or a length above Number.MAX_SAFE_INTEGER.
 */
export function varintFrameSize(buffer: Buffer, start: number, end: number): number {
  let value = 0;
  let scale = 1;
  for (let index = 0; index < MAX_VARINT_BYTES; index++) {
    if (start + index >= end) return NEED_MORE;
    const byte = buffer[start + index] as number;
    if (index === MAX_VARINT_BYTES - 1 && byte > 1) throw new ProtocolError('length delimiter is longer than 64 bits');
    // Exact while the value is below 2^53; past that the sum only grows, and is refused below.
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      const size = index + 1 + value;
      if (size > Number.MAX_SAFE_INTEGER) throw new ProtocolError('length delimiter exceeds 2^53-1');
      return size;
    }
    scale *= 0x80;
  }
  throw new ProtocolError(`length delimiter has no terminating byte within ${MAX_VARINT_BYTES} bytes`);
}

/** Bytes the varint encoding of `value` (a non-negative safe integer) takes. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** Appends the varint encoding of `value` (a non-negative safe integer). */
export function writeVarint(out: OutboundBuffer, value: number): void {
  while (value >= 0x80) {
    out.writeUInt8((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.writeUInt8(value);
}
