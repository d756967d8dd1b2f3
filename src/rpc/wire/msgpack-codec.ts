import { Packr, RESERVE_START_SPACE, Unpackr, type Options } from 'msgpackr';
import { NEED_MORE, type Codec, type Decoder, type Encoder } from '../../core/codec.js';
import { messageOf, ProtocolError } from '../../core/errors.js';
import type { OutboundBuffer } from '../../core/outbound-buffer.js';
import type { ControlCode } from './control-code.js';
import type { Metadata, RpcFrame } from './frame.js';
import { checkMeta, checkOutbound, invalidFrame, isCallId, isControlCode, isPlainObject, isWireTimeout, ownBytes, wireTimeout } from './envelope.js';
import { isProfileCallId, profileInboundCode, checkProfileOutbound, withProtocolForms, type WireProtocol } from './profile.js';

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
  /**
   * The envelope rules: `native` (default) or `protosocket-rpc` (PROTOCOL.md §12). RpcServer and
   * RpcClient pick this form themselves from their own `protocol` option.
   */
  protocol?: WireProtocol;
}

/** Builds a MessagePack codec. Encoder and decoder keep no per-connection state. */
export function createMsgpackCodec(options: MsgpackCodecOptions = {}): Codec<RpcFrame, RpcFrame> {
  const codec = options.protocol === 'protosocket-rpc' ? createProfileCodec(options) : createNativeCodec(options);
  let profileForm: Codec<RpcFrame, RpcFrame> | undefined = options.protocol === 'protosocket-rpc' ? codec : undefined;
  const forms = (protocol: WireProtocol): Codec<RpcFrame, RpcFrame> | undefined => {
    if (protocol === 'native') return options.protocol === 'protosocket-rpc' ? undefined : codec;
    profileForm ??= createProfileCodec(options);
    return profileForm;
  };
  return withProtocolForms({ ...codec }, forms);
}

function packerSettings(options: MsgpackCodecOptions): Options {
  return {
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
}

function createNativeCodec(options: MsgpackCodecOptions): Codec<RpcFrame, RpcFrame> {
  const settings = packerSettings(options);
  const packr = new Packr(settings);
  const unpackr = new Unpackr(settings);

  const encoder: Encoder<RpcFrame> = {
    encode(frame: RpcFrame, out: OutboundBuffer): void {
      checkOutbound(frame);
      packFrame(packr, toEnvelope(frame), out);
    },
  };

  const decoder: Decoder<RpcFrame> = {
    frameSize: msgpackFrameSize,
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

function msgpackFrameSize(buffer: Buffer, start: number, end: number): number {
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
}

function unpackBody(unpackr: Unpackr, buffer: Buffer, start: number, end: number): unknown {
  try {
    // Reads exactly [start + 5, end): msgpackr throws when the value ends before `end`
    // (trailing bytes) or runs past it (truncated), so the declared length is the truth.
    return unpackr.unpack(buffer, { start: start + MSGPACK_HEADER_BYTES, end });
  } catch (err) {
    throw new ProtocolError(`invalid msgpack body: ${messageOf(err)}`, { cause: err });
  }
}

function packFrame(packr: Packr, body: unknown, out: OutboundBuffer): void {
  // msgpackr reserves the header's 5 bytes in front of the body, in the same allocation; it
  // never writes over a buffer it returned before, so the bytes can be queued by reference.
  const bytes = packr.pack(body, RESERVE_START_SPACE | MSGPACK_HEADER_BYTES);
  bytes[0] = MSGPACK_MARKER_U32;
  bytes.writeUInt32BE(bytes.length - MSGPACK_HEADER_BYTES, 1);
  out.writeBytes(bytes);
}

/**
 * The protosocket-rpc form (PROTOCOL.md §12.3): the same framing and one-letter keys, plus
 *
 *   e?: error body   (a Normal with `e` is the internal Error; an End follows it)
 *
 * Codes are translated by the profile's table (Reply goes as Normal, Error as Normal + `e`).
 * Encoding: the map form, as above; every integer is a MessagePack integer, never a float64
 * (msgpackr writes integers beyond 32 bits as float64, which a Rust u64 refuses), so ids, and
 * integers in payloads, above 2^32-1 are written as 64-bit integers. Decoding: the map form, or
 * the array form a `#[derive(Serialize)]` struct gets from rmp-serde, `[i, c, p, t, m, d, e]`
 * (2 to 7 elements, nil for an absent field). Ids up to 2^53-1.
 */
function createProfileCodec(options: MsgpackCodecOptions): Codec<RpcFrame, RpcFrame> {
  const settings = packerSettings(options);
  const packr = new Packr(settings);
  const unpackr = new Unpackr(settings);
  const encoder: Encoder<RpcFrame> = {
    encode(frame: RpcFrame, out: OutboundBuffer): void {
      const form = checkProfileOutbound(frame);
      const id = exactIntegers(frame.id);
      const envelope: ProfileEnvelope = { i: id, c: form.wireCode };
      if (frame.pattern !== undefined) envelope.p = frame.pattern;
      if (frame.timeoutMs !== undefined) envelope.t = wireTimeout(frame.timeoutMs);
      if (frame.meta !== undefined) envelope.m = frame.meta;
      // An error needs a body to be seen as one: a Rust Option<_> would read nil as no error.
      if (form.asError === true) envelope.e = frame.data === undefined || frame.data === null ? { message: 'call failed' } : exactIntegers(frame.data);
      else if (frame.data !== undefined) envelope.d = exactIntegers(frame.data);
      packFrame(packr, envelope, out);
      if (form.thenEnd === true) packFrame(packr, { i: id, c: 2 }, out);
    },
  };
  const decoder: Decoder<RpcFrame> = {
    frameSize: msgpackFrameSize,
    decode(buffer: Buffer, start: number, end: number): RpcFrame {
      return fromProfileEnvelope(unpackBody(unpackr, buffer, start, end));
    },
  };
  return { encoder, decoder };
}

interface ProfileEnvelope {
  i: number | bigint;
  c: 0 | 1 | 2;
  p?: string;
  t?: number;
  m?: Metadata;
  d?: unknown;
  e?: unknown;
}

/** The array form's order: the fields of the Rust struct in PROTOCOL.md §12.3. */
const ARRAY_FORM_KEYS = ['i', 'c', 'p', 't', 'm', 'd', 'e'] as const;
const PROFILE_KEYS = new Set<string>(ARRAY_FORM_KEYS);

function fromProfileEnvelope(body: unknown): RpcFrame {
  let fields: Record<string, unknown>;
  if (Array.isArray(body)) {
    if (body.length < 2 || body.length > ARRAY_FORM_KEYS.length) {
      throw new ProtocolError(`an array-form envelope has 2 to ${ARRAY_FORM_KEYS.length} elements, got ${body.length}`);
    }
    fields = {};
    // nil is an absent field: that is how rmp-serde writes None.
    body.forEach((value: unknown, index) => {
      if (value !== null) fields[ARRAY_FORM_KEYS[index] as string] = value;
    });
  } else if (isPlainObject(body)) {
    for (const key in body) {
      if (!PROFILE_KEYS.has(key)) throw new ProtocolError(`unknown envelope key ${JSON.stringify(key)}`);
    }
    fields = body;
  } else {
    throw new ProtocolError('msgpack body is neither an envelope map nor an envelope array');
  }
  const { i: id, c: wireCode, p: pattern, t: timeoutMs, m: meta, d: data, e: error } = fields;
  if (!isProfileCallId(id)) throw new ProtocolError('envelope id (i) must be an integer in 0..2^53-1');
  const code = profileInboundCode(wireCode, error !== undefined);
  if (pattern !== undefined && typeof pattern !== 'string') throw new ProtocolError('envelope pattern (p) must be a string');
  if (timeoutMs !== undefined && !isWireTimeout(timeoutMs)) throw new ProtocolError('envelope timeout (t) must be an integer in 0..2^32-1');
  if (error !== undefined && data !== undefined) throw new ProtocolError('an envelope carries data (d) or an error (e), not both');
  const checkedMeta = meta === undefined ? undefined : checkMeta(meta);
  const value = error !== undefined ? error : data;
  return {
    id,
    code,
    pattern,
    data: value instanceof Uint8Array ? ownBytes(value) : value,
    timeoutMs,
    // An empty map is what a Rust BTreeMap without entries writes: no metadata.
    meta: checkedMeta === undefined || Object.keys(checkedMeta).length === 0 ? undefined : checkedMeta,
  };
}

/**
 * `value` with every safe integer beyond 32 bits as a bigint, which msgpackr writes as a 64-bit
 * integer (it writes such numbers as float64 otherwise). Copies only the arrays and plain
 * objects on the way to one; byte payloads and other values are left as they are.
 */
function exactIntegers<T>(value: T): T | bigint {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && (value > 0xffff_ffff || value < -0x8000_0000) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      const exact = exactIntegers(item);
      if (exact !== item) (copy ??= value.slice())[index] = exact;
    }
    return (copy ?? value) as T;
  }
  if (isPlainObject(value)) {
    let copy: Record<string, unknown> | undefined;
    for (const key in value) {
      const item = value[key];
      const exact = exactIntegers(item);
      if (exact !== item) (copy ??= { ...value })[key] = exact;
    }
    return (copy ?? value) as T;
  }
  return value;
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
