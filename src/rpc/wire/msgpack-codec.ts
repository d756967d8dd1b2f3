import { Packr, RESERVE_START_SPACE, Unpackr, type Options } from 'msgpackr';
import { NEED_MORE, type Codec, type Decoder, type Encoder } from '../../core/codec.js';
import { messageOf, ProtocolError } from '../../core/errors.js';
import type { OutboundBuffer } from '../../core/outbound-buffer.js';
import type { ControlCode } from './control-code.js';
import type { Metadata, RpcFrame } from './frame.js';
import { checkMeta, checkOutbound, invalidFrame, isCallId, isControlCode, isPlainObject, isWireTimeout, ownBytes, wireTimeout } from './envelope.js';

/**
 * The MessagePack codec (docs/PROTOCOL.md, "msgpack"), framed as protosocket-messagepack
 * frames: the MessagePack u32 marker 0xCE and the body's length, then one MessagePack value.
 *
 *   +------+----------------+---------------------------------------------+
 *   | 0xCE | length: u32 BE | body: one MessagePack map, `length` bytes    |
 *   +------+----------------+---------------------------------------------+
 *
 * The body is a map with one-letter keys; absent fields are left out, never written as nil,
 * so a `null` payload stays distinct from no payload:
 *
 *   { i: id, c: control code, p?: pattern, t?: timeout ms, m?: { string: string }, d?: data }
 *
 * Byte payloads (Buffer, Uint8Array) are MessagePack `bin` and decode as Buffers.
 */
const MSGPACK_MARKER_U32 = 0xce;
const MSGPACK_HEADER_BYTES = 5;

/** msgpackr options the codec decides itself, because the envelope and interop depend on them. */
type FixedOption =
  | 'useRecords'
  | 'structures'
  | 'getStructures'
  | 'saveStructures'
  | 'maxSharedStructures'
  | 'maxOwnStructures'
  | 'shouldShareStructure'
  | 'sequential'
  | 'bundleStrings'
  | 'structuredClone'
  | 'mapsAsObjects';

export interface MsgpackCodecOptions {
  /**
   * Passed to msgpackr's Packr and Unpackr, for the payload's own types (`int64AsType`,
   * `useFloat32`, `moreTypes`, ...). Defaults: `variableMapSize: true` (small maps as fixmap),
   * `int64AsType: 'auto'` (64-bit integers decode as numbers when exact, else bigint).
   * Options that would leave standard MessagePack (records, bundled strings, structured clone)
   * or change how maps decode are fixed by the codec and cannot be set.
   */
  msgpackr?: Omit<Options, FixedOption>;
}

/** Builds a MessagePack codec. Encoder and decoder keep no per-connection state. */
export function createMsgpackCodec(options: MsgpackCodecOptions = {}): Codec<RpcFrame, RpcFrame> {
  const settings: Options = {
    variableMapSize: true,
    // msgpackr supports 'auto' (number when exact, else bigint) but its typings omit it.
    int64AsType: 'auto' as Options['int64AsType'],
    ...options.msgpackr,
    // Interop: plain MessagePack only. msgpackr's records and bundled strings are extensions
    // other implementations cannot read, and shared structures would be per-connection state.
    useRecords: false,
    sequential: false,
    bundleStrings: false,
    structuredClone: false,
    mapsAsObjects: true,
  };
  const packr = new Packr(settings);
  const unpackr = new Unpackr(settings);

  const encoder: Encoder<RpcFrame> = {
    encode(frame: RpcFrame, out: OutboundBuffer): void {
      checkOutbound(frame);
      // msgpackr reserves the header's 5 bytes in front of the body, in the same allocation; it
      // never writes over a buffer it returned before, so the bytes can be queued by reference.
      const bytes = packr.pack(toEnvelope(frame), RESERVE_START_SPACE | MSGPACK_HEADER_BYTES);
      bytes[0] = MSGPACK_MARKER_U32;
      bytes.writeUInt32BE(bytes.length - MSGPACK_HEADER_BYTES, 1);
      out.writeBytes(bytes);
    },
  };

  const decoder: Decoder<RpcFrame> = {
    frameSize(buffer: Buffer, start: number, end: number): number {
      if (end <= start) return NEED_MORE;
      const marker = buffer[start] as number;
      if (marker !== MSGPACK_MARKER_U32) {
        throw new ProtocolError(`a msgpack frame starts with 0xce, got 0x${marker.toString(16).padStart(2, '0')}`);
      }
      if (end - start < MSGPACK_HEADER_BYTES) return NEED_MORE;
      const length = buffer.readUInt32BE(start + 1);
      if (length === 0) throw new ProtocolError('msgpack frame with an empty body');
      // At most 5 + 0xffffffff: a plain number, no overflow; FrameReader compares it with maxFrameBytes.
      return MSGPACK_HEADER_BYTES + length;
    },
    decode(buffer: Buffer, start: number, end: number): RpcFrame {
      let body: unknown;
      try {
        // Reads exactly [start + 5, end): msgpackr throws when the value ends before `end`
        // (trailing bytes) or runs past it (truncated), so the declared length is the truth.
        body = unpackr.unpack(buffer, { start: start + MSGPACK_HEADER_BYTES, end });
      } catch (err) {
        const error = new ProtocolError(`invalid msgpack body: ${messageOf(err)}`, { cause: err });
        // The frame is intact (its length said where it ends): if its id and code can still be
        // read, only its call fails.
        const id = peekKey(buffer, start, end, 0x69);
        const code = peekKey(buffer, start, end, 0x63);
        if (isCallId(id) && isControlCode(code)) return invalidFrame(id, code, error);
        throw error;
      }
      return fromEnvelope(body);
    },
    peekId(buffer: Buffer, start: number, end: number): number | undefined {
      const id = peekKey(buffer, start, end, 0x69);
      return isCallId(id) ? id : undefined;
    },
  };

  return { encoder, decoder };
}

/** The MessagePack codec with default options. */
export const msgpackCodec: Codec<RpcFrame, RpcFrame> = createMsgpackCodec();

interface Envelope {
  i: number;
  c: ControlCode;
  p?: string;
  t?: number;
  m?: Metadata;
  d?: unknown;
}

const ENVELOPE_KEYS = new Set(['i', 'c', 'p', 't', 'm', 'd']);

function toEnvelope(frame: RpcFrame): Envelope {
  const envelope: Envelope = { i: frame.id, c: frame.code };
  if (frame.pattern !== undefined) envelope.p = frame.pattern;
  if (frame.timeoutMs !== undefined) envelope.t = wireTimeout(frame.timeoutMs);
  if (frame.meta !== undefined) envelope.m = frame.meta;
  if (frame.data !== undefined) envelope.d = frame.data;
  return envelope;
}

/**
 * A body that is not a map, an unknown key, or a bad id or code is a protocol error; a bad
 * pattern, timeout or meta makes an invalid frame, which fails only its call.
 */
function fromEnvelope(body: unknown): RpcFrame {
  if (!isPlainObject(body)) throw new ProtocolError('msgpack body is not a map');
  for (const key in body) {
    // Like the JSON codec's reserved flag bits: a key this version does not know is refused, not skipped.
    if (!ENVELOPE_KEYS.has(key)) throw new ProtocolError(`unknown envelope key ${JSON.stringify(key)}`);
  }
  const { i: id, c: code, p: pattern, t: timeoutMs, m: meta, d: data } = body;
  if (!isCallId(id)) throw new ProtocolError('envelope id (i) must be an integer in 0..2^32-1');
  if (!isControlCode(code)) throw new ProtocolError(`unknown control code ${messageOf(code)}`);
  try {
    if (pattern !== undefined && typeof pattern !== 'string') throw new ProtocolError('envelope pattern (p) must be a string');
    if (timeoutMs !== undefined && !isWireTimeout(timeoutMs)) throw new ProtocolError('envelope timeout (t) must be an integer in 0..2^32-1');
    return {
      id,
      code,
      pattern,
      data: data instanceof Uint8Array ? ownBytes(data) : data,
      timeoutMs,
      meta: meta === undefined ? undefined : checkMeta(meta),
    };
  } catch (err) {
    return invalidFrame(id, code, err);
  }
}

/**
 * The unsigned integer stored under the one-letter key `key` (an ASCII code) of the envelope
 * map of the frame at `start`, read from `buf[start, end)` without decoding the rest: entries
 * before it are skipped while their values are scalars or strings. Undefined when these bytes
 * do not tell (the key is absent from them, or follows a value this does not skip).
 */
function peekKey(buffer: Buffer, start: number, end: number, key: number): number | undefined {
  let at = start + MSGPACK_HEADER_BYTES;
  if (at >= end) return undefined;
  const mapByte = buffer[at] as number;
  let entries: number;
  if (mapByte >= 0x80 && mapByte <= 0x8f) {
    entries = mapByte & 0x0f;
    at += 1;
  } else if (mapByte === 0xde && at + 3 <= end) {
    entries = buffer.readUInt16BE(at + 1);
    at += 3;
  } else if (mapByte === 0xdf && at + 5 <= end) {
    entries = buffer.readUInt32BE(at + 1);
    at += 5;
  } else {
    return undefined;
  }
  for (let entry = 0; entry < entries && at + 2 <= end; entry++) {
    // Envelope keys are one-letter fixstrs: 0xa1, then the letter.
    if (buffer[at] !== 0xa1) return undefined;
    const found = buffer[at + 1] === key;
    at += 2;
    if (found) return readUnsigned(buffer, at, end);
    const next = skipScalar(buffer, at, end);
    if (next === undefined) return undefined;
    at = next;
  }
  return undefined;
}

function readUnsigned(buffer: Buffer, at: number, end: number): number | undefined {
  if (at >= end) return undefined;
  const byte = buffer[at] as number;
  if (byte <= 0x7f) return byte;
  const width = byte === 0xcc ? 1 : byte === 0xcd ? 2 : byte === 0xce ? 4 : byte === 0xcf ? 8 : 0;
  if (width === 0 || at + 1 + width > end) return undefined;
  if (width === 8) return buffer.readUInt32BE(at + 1) === 0 ? buffer.readUInt32BE(at + 5) : undefined;
  return buffer.readUIntBE(at + 1, width);
}

/** Where the scalar or string value at `at` ends, or undefined for other values (or past `end`). */
function skipScalar(buffer: Buffer, at: number, end: number): number | undefined {
  const byte = buffer[at] as number;
  let size: number;
  if (byte <= 0x7f || byte >= 0xe0 || byte === 0xc0 || byte === 0xc2 || byte === 0xc3) size = 1;
  else if (byte >= 0xa0 && byte <= 0xbf) size = 1 + (byte & 0x1f);
  else if (byte === 0xcc || byte === 0xd0) size = 2;
  else if (byte === 0xcd || byte === 0xd1) size = 3;
  else if (byte === 0xce || byte === 0xd2 || byte === 0xca) size = 5;
  else if (byte === 0xcf || byte === 0xd3 || byte === 0xcb) size = 9;
  else if ((byte === 0xd9 || byte === 0xc4) && at + 2 <= end) size = 2 + (buffer[at + 1] as number);
  else if ((byte === 0xda || byte === 0xc5) && at + 3 <= end) size = 3 + buffer.readUInt16BE(at + 1);
  else return undefined;
  return at + size <= end ? at + size : undefined;
}
