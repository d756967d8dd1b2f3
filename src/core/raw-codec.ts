import type { Codec, Decoder, Encoder } from './codec.js';
import { LENGTH_PREFIX_BYTES, lengthPrefixedFrameSize, writeLengthPrefixed } from './length-prefixed.js';
import type { OutboundBuffer } from './outbound-buffer.js';

/**
 * Length-prefixed opaque bytes: each message is one `Uint8Array` body. Decoded messages are
 * views into the connection's read buffer (no copy).
 */
const rawEncoder: Encoder<Uint8Array> = {
  encode(message: Uint8Array, out: OutboundBuffer): void {
    writeLengthPrefixed(out, message, writeBody);
  },
};

const rawDecoder: Decoder<Buffer> = {
  frameSize: lengthPrefixedFrameSize,
  decode(buffer: Buffer, start: number, end: number): Buffer {
    return buffer.subarray(start + LENGTH_PREFIX_BYTES, end);
  },
};

export const rawCodec: Codec<Buffer, Uint8Array> = { encoder: rawEncoder, decoder: rawDecoder };

function writeBody(message: Uint8Array, out: OutboundBuffer): void {
  out.writeBytes(message);
}
