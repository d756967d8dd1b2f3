import { BoundedCache } from '../../core/bounded-cache.js';
import { NEED_MORE, type Codec, type Decoder, type Encoder } from '../../core/codec.js';
import { EncodeError, ProtocolError } from '../../core/errors.js';
import { LENGTH_PREFIX_BYTES, lengthPrefixedFrameSize, writeLengthPrefixed } from '../../core/length-prefixed.js';
import type { OutboundBuffer } from '../../core/outbound-buffer.js';
import { type ControlCode } from './control-code.js';
import { checkMeta, checkOutbound, invalidFrame, isControlCode, ownBytes, parseJson, wireTimeout } from './envelope.js';
import type { Metadata, RpcFrame } from './frame.js';

/**
 * The default codec: a small binary envelope around JSON values (docs/PROTOCOL.md, "json").
 *
 *   u32 BE  length of everything after this field
 *   u8      control code
 *   u8      flags: 0x01 pattern, 0x02 timeout, 0x04 meta, 0x08 JSON data, 0x10 raw bytes data
 *   u32 BE  call id
 *   [u16 BE length + UTF-8]  pattern      if 0x01
 *   [u32 BE]                 timeout ms   if 0x02
 *   [u32 BE length + JSON]   meta object  if 0x04
 *   [rest of frame]          data: JSON text (0x08) or raw bytes (0x10)
 *
 * The envelope is binary so that ids, codes and routes need no JSON work, and so a `Buffer`
 * or `Uint8Array` payload travels as raw bytes (zero copy on send) and arrives as a `Buffer`.
 */
const FLAG_PATTERN = 0x01;
const FLAG_TIMEOUT = 0x02;
const FLAG_META = 0x04;
const FLAG_JSON = 0x08;
const FLAG_BYTES = 0x10;
const KNOWN_FLAGS = FLAG_PATTERN | FLAG_TIMEOUT | FLAG_META | FLAG_JSON | FLAG_BYTES;

/** code + flags + id */
const FIXED_HEADER_BYTES = 6;
const MAX_PATTERN_BYTES = 0xffff;

// Encoder and decoder are reached through `jsonCodec` only, as every codec's.
const jsonEncoder: Encoder<RpcFrame> = {
  encode(frame: RpcFrame, out: OutboundBuffer): void {
    checkOutbound(frame);
    writeLengthPrefixed(out, frame, writeEnvelope);
  },
};

const jsonDecoder: Decoder<RpcFrame> = {
  frameSize(buffer: Buffer, start: number, end: number): number {
    const size = lengthPrefixedFrameSize(buffer, start, end);
    if (size !== NEED_MORE && size < LENGTH_PREFIX_BYTES + FIXED_HEADER_BYTES) {
      throw new ProtocolError(`frame of ${size - LENGTH_PREFIX_BYTES} bytes is shorter than the ${FIXED_HEADER_BYTES}-byte envelope`);
    }
    return size;
  },
  decode: readEnvelope,
  peekId(buffer: Buffer, start: number, end: number): number | undefined {
    // The id follows the length, the code and the flags.
    return end - start >= LENGTH_PREFIX_BYTES + FIXED_HEADER_BYTES ? buffer.readUInt32BE(start + LENGTH_PREFIX_BYTES + 2) : undefined;
  },
};

/** The JSON codec. Encoder and decoder keep no per-connection state. */
export const jsonCodec: Codec<RpcFrame, RpcFrame> = { encoder: jsonEncoder, decoder: jsonDecoder };

function writeEnvelope(frame: RpcFrame, out: OutboundBuffer): void {
  const { pattern, timeoutMs, meta, data } = frame;
  let flags = 0;
  let patternBytes: Buffer | undefined;
  if (pattern !== undefined) {
    flags |= FLAG_PATTERN;
    patternBytes = encodePattern(pattern);
  }
  if (timeoutMs !== undefined) flags |= FLAG_TIMEOUT;
  const metaJson = meta === undefined ? undefined : JSON.stringify(meta);
  if (metaJson !== undefined) flags |= FLAG_META;
  const bytes = data instanceof Uint8Array ? data : undefined;
  const json = bytes === undefined && data !== undefined ? JSON.stringify(data) : undefined;
  if (bytes !== undefined) flags |= FLAG_BYTES;
  else if (json !== undefined) flags |= FLAG_JSON;

  out.writeUInt8(frame.code);
  out.writeUInt8(flags);
  out.writeUInt32BE(frame.id);
  if (patternBytes !== undefined) {
    out.writeUInt8(patternBytes.length >>> 8);
    out.writeUInt8(patternBytes.length & 0xff);
    out.writeBytes(patternBytes);
  }
  if (timeoutMs !== undefined) out.writeUInt32BE(wireTimeout(timeoutMs));
  if (metaJson !== undefined) {
    out.writeUInt32BE(Buffer.byteLength(metaJson));
    out.writeUtf8(metaJson);
  }
  if (bytes !== undefined) out.writeBytes(bytes);
  else if (json !== undefined) out.writeUtf8(json);
}

/**
 * A bad code or flags byte is a protocol error (the frame cannot be understood at all); bad
 * content after the fixed header makes an invalid frame, which fails only its call.
 */
function readEnvelope(buffer: Buffer, start: number, end: number): RpcFrame {
  const at = start + LENGTH_PREFIX_BYTES;
  const code = buffer[at] as number;
  const flags = buffer[at + 1] as number;
  const id = buffer.readUInt32BE(at + 2);
  if (!isControlCode(code)) throw new ProtocolError(`unknown control code ${code}`);
  if ((flags & ~KNOWN_FLAGS) !== 0 || (flags & (FLAG_JSON | FLAG_BYTES)) === (FLAG_JSON | FLAG_BYTES)) {
    throw new ProtocolError(`invalid flags 0x${flags.toString(16)}`);
  }
  try {
    return readFields(buffer, at + FIXED_HEADER_BYTES, end, id, code, flags);
  } catch (err) {
    return invalidFrame(id, code, err);
  }
}

function readFields(buffer: Buffer, at: number, end: number, id: number, code: ControlCode, flags: number): RpcFrame {
  let pattern: string | undefined;
  if ((flags & FLAG_PATTERN) !== 0) {
    const length = readLength(buffer, at, end, 2);
    at += 2;
    pattern = decodePattern(buffer, at, length);
    at += length;
  }
  let timeoutMs: number | undefined;
  if ((flags & FLAG_TIMEOUT) !== 0) {
    need(at + 4, end);
    timeoutMs = buffer.readUInt32BE(at);
    at += 4;
  }
  let meta: Metadata | undefined;
  if ((flags & FLAG_META) !== 0) {
    const length = readLength(buffer, at, end, 4);
    at += 4;
    meta = checkMeta(parseJson(buffer.toString('utf8', at, at + length), 'meta'));
    at += length;
  }
  let data: unknown;
  if ((flags & FLAG_JSON) !== 0) {
    data = parseJson(buffer.toString('utf8', at, end), 'payload');
  } else if ((flags & FLAG_BYTES) !== 0) {
    data = ownBytes(buffer.subarray(at, end));
  } else if (at !== end) {
    throw new ProtocolError(`${end - at} unexpected bytes after the envelope`);
  }
  return { id, code, pattern, data, timeoutMs, meta };
}

function readLength(buffer: Buffer, at: number, end: number, width: 2 | 4): number {
  need(at + width, end);
  const length = width === 2 ? buffer.readUInt16BE(at) : buffer.readUInt32BE(at);
  need(at + width + length, end);
  return length;
}

function need(position: number, end: number): void {
  if (position > end) throw new ProtocolError('envelope field runs past the end of the frame');
}

/**
 * Patterns repeat on the way in too: a request or event whose pattern bytes equal the last ones
 * seen in the same slot gets the same string back, without decoding a new one (and the string's
 * hash, computed once, serves every later route lookup). Slots are picked by length and the
 * first and last bytes; a miss decodes and replaces the slot. Strings are immutable, so sharing
 * one between frames and connections is safe; the memory is bounded (slots x short patterns).
 */
const DECODED_PATTERN_SLOTS = 256;
const MAX_CACHED_PATTERN_BYTES = 64;
const decodedPatternBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(DECODED_PATTERN_SLOTS).fill(undefined);
const decodedPatterns: string[] = new Array<string>(DECODED_PATTERN_SLOTS).fill('');

function decodePattern(buffer: Buffer, at: number, length: number): string {
  if (length === 0 || length > MAX_CACHED_PATTERN_BYTES) return buffer.toString('utf8', at, at + length);
  const slot = (length * 31 + (buffer[at] as number) * 7 + (buffer[at + length - 1] as number)) & (DECODED_PATTERN_SLOTS - 1);
  const cached = decodedPatternBytes[slot];
  if (cached !== undefined && cached.length === length) {
    let i = 0;
    while (i < length && buffer[at + i] === cached[i]) i++;
    if (i === length) return decodedPatterns[slot] as string;
  }
  const pattern = buffer.toString('utf8', at, at + length);
  // A copy of its own (not a view of the read buffer, nor a slice of Buffer's shared pool).
  const bytes = new Uint8Array(length);
  bytes.set(buffer.subarray(at, at + length));
  decodedPatternBytes[slot] = bytes;
  decodedPatterns[slot] = pattern;
  return pattern;
}

// Patterns repeat: their UTF-8 bytes are cached, within a bound.
const patternCache = new BoundedCache<string, Buffer>(1024);

/**
 * Longer patterns are encoded each time, not cached: V8 hashes a string of more than 16,383
 * characters by its length alone, so a Map of long keys of one length degrades to a linear scan
 * (2,000 distinct 60 KiB patterns took seconds). Routes are short; 256 is far above any.
 */
const CACHED_PATTERN_CHARS = 256;

function encodePattern(pattern: string): Buffer {
  let bytes = pattern.length <= CACHED_PATTERN_CHARS ? patternCache.get(pattern) : undefined;
  if (bytes === undefined) {
    bytes = Buffer.from(pattern, 'utf8');
    if (bytes.length > MAX_PATTERN_BYTES) throw EncodeError.withReason(`pattern of ${bytes.length} bytes exceeds ${MAX_PATTERN_BYTES}`);
    if (pattern.length <= CACHED_PATTERN_CHARS) patternCache.set(pattern, bytes);
  }
  return bytes;
}
