import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs/light.js';
import type { Codec } from '../../core/codec.js';
import { messageOf, ProtocolError } from '../../core/errors.js';
import type { OutboundBuffer } from '../../core/outbound-buffer.js';
import type { Metadata, RpcFrame } from './frame.js';
import { checkOutbound, invalidFrame, isCallId, isControlCode, ownBytes, parseJson, wireTimeout } from './envelope.js';
import { ControlCode } from './control-code.js';
import { isProfileCallId, profileInboundCode, checkProfileOutbound, withProtocolForms, type WireProtocol } from './profile.js';
import { varintFrameSize, varintSize, writeVarint } from './varint.js';

/**
 * The Protobuf codec (docs/PROTOCOL.md, "protobuf"): each frame is one `Envelope` message in
 * protobuf's length-delimited form, exactly as protosocket-prost writes it
 * (`encode_length_delimited`): a varint byte count, then the message.
 *
 *   +---------------------------+------------------------------------+
 *   | length: varint, 1-10 B    | body: Envelope message, `length` B  |
 *   +---------------------------+------------------------------------+
 *
 * The Envelope (docs/protosocket.proto) keeps protosocket's convention of the message id in
 * field 1 and the control code in field 2:
 *
 *   message Envelope {
 *     uint64 id = 1;                    // call id, at most 2^32-1
 *     uint32 code = 2;                  // control code
 *     optional string pattern = 3;
 *     optional uint32 timeout_ms = 4;
 *     map<string, string> meta = 5;
 *     oneof payload { bytes raw = 6; string json = 7; google.protobuf.Any message = 8; }
 *   }
 *
 * Payloads: a Buffer or Uint8Array travels as `raw`; a protobufjs message instance as `message`
 * (an Any whose type is looked up in the codec's `root` when decoded); anything else as `json`
 * (JSON text, as Nest's error bodies are plain objects); `undefined` as no payload.
 */

/** The Envelope and the google.protobuf.Any it uses, as a protobufjs JSON descriptor. */
export const ENVELOPE_DESCRIPTOR: protobuf.INamespace = {
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: {
            Any: {
              fields: {
                type_url: { type: 'string', id: 1 },
                value: { type: 'bytes', id: 2 },
              },
            },
          },
        },
      },
    },
    protosocket: {
      nested: {
        v1: {
          nested: {
            Envelope: {
              oneofs: {
                _pattern: { oneof: ['pattern'] },
                _timeout_ms: { oneof: ['timeout_ms'] },
                _error: { oneof: ['error'] },
                payload: { oneof: ['raw', 'json', 'message'] },
              },
              fields: {
                id: { type: 'uint64', id: 1 },
                code: { type: 'uint32', id: 2 },
                pattern: { type: 'string', id: 3, options: { proto3_optional: true } },
                timeout_ms: { type: 'uint32', id: 4, options: { proto3_optional: true } },
                meta: { keyType: 'string', type: 'string', id: 5 } as protobuf.IMapField,
                raw: { type: 'bytes', id: 6 },
                json: { type: 'string', id: 7 },
                message: { type: 'google.protobuf.Any', id: 8 },
                error: { type: 'string', id: 9, options: { proto3_optional: true } },
              },
            },
          },
        },
      },
    },
  },
};

const envelopeRoot = protobuf.Root.fromJSON(ENVELOPE_DESCRIPTOR);
/** The reflected `protosocket.v1.Envelope` type. */
export const EnvelopeType: protobuf.Type = envelopeRoot.lookupType('protosocket.v1.Envelope');
const AnyType: protobuf.Type = envelopeRoot.lookupType('google.protobuf.Any');

const TYPE_URL_PREFIX = 'type.googleapis.com/';

// Tags (field number << 3 | wire type 2) of the payload fields, written by hand after the rest.
const RAW_TAG = (6 << 3) | 2;
const JSON_TAG = (7 << 3) | 2;
const MESSAGE_TAG = (8 << 3) | 2;

export interface ProtobufCodecOptions {
  /**
   * Where the decoder looks up the type of a `google.protobuf.Any` payload, by its type URL's
   * last segment (`type.googleapis.com/example.v1.Point` -> `example.v1.Point`). Without it,
   * or for a type it lacks, an Any payload is a protocol error. Encoding needs no root.
   */
  root?: protobuf.Root;
  /**
   * The envelope rules: `native` (default) or `protosocket-rpc` (PROTOCOL.md §12). RpcServer and
   * RpcClient pick this form themselves from their own `protocol` option.
   */
  protocol?: WireProtocol;
}

/** Builds a Protobuf codec. Encoder and decoder keep no per-connection state. */
export function createProtobufCodec(options: ProtobufCodecOptions = {}): Codec<RpcFrame, RpcFrame> {
  const root = options.root;
  const native: Codec<RpcFrame, RpcFrame> = {
    encoder: { encode: encodeFrame },
    decoder: {
      frameSize: varintFrameSize,
      decode(buffer: Buffer, start: number, end: number): RpcFrame {
        return decodeFrame(buffer, start, end, root);
      },
      peekId(buffer: Buffer, start: number, end: number): number | undefined {
        return peekHead(buffer, bodyStartOf(buffer, start, end), end).id;
      },
    },
  };
  const profile: Codec<RpcFrame, RpcFrame> = {
    encoder: { encode: encodeProfileFrame },
    decoder: {
      frameSize: varintFrameSize,
      decode(buffer: Buffer, start: number, end: number): RpcFrame {
        return decodeProfileFrame(buffer, start, end, root);
      },
    },
  };
  const isProfile = options.protocol === 'protosocket-rpc';
  const forms = (protocol: WireProtocol): Codec<RpcFrame, RpcFrame> | undefined => {
    if (protocol === 'protosocket-rpc') return profile;
    return isProfile ? undefined : native;
  };
  return withProtocolForms({ ...(isProfile ? profile : native) }, forms);
}

/** The Protobuf codec without a root: Any payloads are sent, but received ones cannot be decoded. */
export const protobufCodec: Codec<RpcFrame, RpcFrame> = createProtobufCodec();

/** The Envelope's fields 1-5 as protobufjs encodes them (field names as in the descriptor). */
interface EnvelopeHead {
  id: number;
  code: number;
  pattern?: string;
  timeout_ms?: number;
  meta?: Metadata;
  /** protosocket-rpc profile only: the error body as JSON text. */
  error?: string;
}

/** A decoded Envelope: what protobufjs puts on the message, checked before use. */
interface DecodedEnvelope {
  id: unknown;
  code: unknown;
  pattern: unknown;
  timeout_ms: unknown;
  meta: Record<string, string> | undefined;
  raw: unknown;
  json: unknown;
  message: unknown;
  error: unknown;
}

interface DecodedAny {
  type_url: string;
  value: Uint8Array;
}

/**
 * Fields 1-5 go through protobufjs (which leaves out proto3 defaults, as prost does: a Normal
 * frame has no field 2); the payload field, the highest-numbered one, is appended by hand so a
 * large byte payload is queued by reference rather than copied. Fields are in field-number
 * order either way, so the bytes are those `Envelope.encodeDelimited` would write.
 */
function encodeFrame(frame: RpcFrame, out: OutboundBuffer): void {
  checkOutbound(frame);
  writeEnvelope(headOf(frame, frame.code), frame.data, out);
}

function headOf(frame: RpcFrame, code: number): EnvelopeHead {
  const head: EnvelopeHead = { id: frame.id, code };
  if (frame.pattern !== undefined) head.pattern = frame.pattern;
  if (frame.timeoutMs !== undefined) head.timeout_ms = wireTimeout(frame.timeoutMs);
  if (frame.meta !== undefined) head.meta = frame.meta;
  return head;
}

/** The Envelope with `head` in fields 1-5 (and 9) and `data` as the payload field. */
function writeEnvelope(head: EnvelopeHead, data: unknown, out: OutboundBuffer): void {
  const headBytes = EnvelopeType.encode(head).finish();

  const messageType = data !== null && typeof data === 'object' ? messageTypeOf(data) : undefined;
  let tag = 0;
  let bytes: Uint8Array | undefined;
  let text: string | undefined;
  let payloadLength = 0;
  if (data instanceof Uint8Array) {
    tag = RAW_TAG;
    bytes = data;
    payloadLength = data.byteLength;
  } else if (messageType !== undefined) {
    tag = MESSAGE_TAG;
    bytes = encodeAny(data as object, messageType);
    payloadLength = bytes.byteLength;
  } else if (data !== undefined) {
    // JSON.stringify gives undefined for a function or a symbol: no payload, as in the JSON codec.
    text = JSON.stringify(data) as string | undefined;
    if (text !== undefined) {
      tag = JSON_TAG;
      payloadLength = Buffer.byteLength(text, 'utf8');
    }
  }

  const bodyLength = headBytes.byteLength + (tag === 0 ? 0 : 1 + varintSize(payloadLength) + payloadLength);
  writeVarint(out, bodyLength);
  out.writeBytes(headBytes);
  if (tag === 0) return;
  out.writeUInt8(tag);
  writeVarint(out, payloadLength);
  if (text !== undefined) out.writeUtf8(text);
  else out.writeBytes(bytes as Uint8Array);
}

/** Where the body of the frame at `start` begins: frameSize accepted its delimiter already, whose last byte is the first below 0x80. */
function bodyStartOf(buffer: Buffer, start: number, end: number): number {
  let bodyStart = start;
  while (bodyStart < end && (buffer[bodyStart] as number) >= 0x80) bodyStart++;
  return bodyStart + 1;
}

/**
 * A bad id or code, or an Envelope protobufjs cannot parse whose id cannot be read either, is a
 * protocol error; bad content (payload, more than one payload) makes an invalid frame, which
 * fails only its call.
 */
function decodeFrame(buffer: Buffer, start: number, end: number, root: protobuf.Root | undefined): RpcFrame {
  const bodyStart = bodyStartOf(buffer, start, end);
  let envelope: DecodedEnvelope;
  try {
    envelope = EnvelopeType.decode(buffer.subarray(bodyStart, end)) as unknown as DecodedEnvelope;
  } catch (err) {
    const error = new ProtocolError(`invalid protobuf envelope: ${messageOf(err)}`, { cause: err });
    // The frame is intact (its delimiter said where it ends): if its id and code can still be
    // read, only its call fails.
    const head = peekHead(buffer, bodyStart, end);
    if (head.id !== undefined && head.code !== undefined) return invalidFrame(head.id, head.code, error);
    throw error;
  }

  const id = toCallId(envelope.id);
  const code = envelope.code;
  if (!isControlCode(code)) throw new ProtocolError(`unknown control code ${messageOf(code)}`);
  try {
    return decodeContent(envelope, id, code, root);
  } catch (err) {
    return invalidFrame(id, code, err);
  }
}

function decodeEnvelope(buffer: Buffer, bodyStart: number, end: number): DecodedEnvelope {
  try {
    return EnvelopeType.decode(buffer.subarray(bodyStart, end)) as unknown as DecodedEnvelope;
  } catch (err) {
    throw new ProtocolError(`invalid protobuf envelope: ${messageOf(err)}`, { cause: err });
  }
}

function decodeContent(envelope: DecodedEnvelope, id: number, code: ControlCode, root: protobuf.Root | undefined): RpcFrame {
  // Presence: protobufjs sets a field on the message only when it was on the wire.
  const pattern = Object.hasOwn(envelope, 'pattern') ? (envelope.pattern as string) : undefined;
  const timeoutMs = Object.hasOwn(envelope, 'timeout_ms') ? (envelope.timeout_ms as number) : undefined;
  // A map has no presence on the wire: an empty map is no metadata.
  const meta = envelope.meta !== undefined && Object.keys(envelope.meta).length > 0 ? envelope.meta : undefined;

  const hasRaw = Object.hasOwn(envelope, 'raw');
  const hasJson = Object.hasOwn(envelope, 'json');
  const hasMessage = Object.hasOwn(envelope, 'message');
  if (Number(hasRaw) + Number(hasJson) + Number(hasMessage) > 1) {
    throw new ProtocolError('envelope carries more than one payload field');
  }
  let data: unknown;
  if (hasRaw) data = ownBytes(envelope.raw as Uint8Array);
  else if (hasJson) data = parseJson(envelope.json as string, 'payload');
  else if (hasMessage) data = decodeAny(envelope.message as DecodedAny, root);
  return { id, code, pattern, data, timeoutMs, meta };
}

/**
 * The id (field 1) and code (field 2) of the Envelope whose fields are `buf[at, end)`, read
 * without decoding the rest: fields before them are skipped while they fit in these bytes.
 * Encoders write fields in number order, so once a field above 2 is seen, the absent ones
 * hold their defaults (0, Normal); undefined where these bytes do not tell.
 */
function peekHead(buffer: Buffer, at: number, end: number): { id?: number | undefined; code?: ControlCode | undefined } {
  let id: number | undefined;
  let code: ControlCode | undefined;
  while (at < end && (id === undefined || code === undefined)) {
    const tag = readSmallVarint(buffer, at, end);
    if (tag === undefined) break;
    at = tag.next;
    const field = Math.floor(tag.value / 8);
    const wireType = tag.value & 7;
    if (field > 2) {
      id ??= 0;
      code ??= ControlCode.Normal;
      break;
    }
    if (wireType !== 0) break;
    const value = readSmallVarint(buffer, at, end);
    if (value === undefined) break;
    at = value.next;
    if (field === 1) id = isCallId(value.value) ? value.value : undefined;
    else if (field === 2) code = isControlCode(value.value) ? value.value : undefined;
    if ((field === 1 && id === undefined) || (field === 2 && code === undefined)) break;
  }
  return { id, code };
}

/** A varint of at most 5 bytes (up to 2^35) at `at`, or undefined if longer or past `end`. */
function readSmallVarint(buffer: Buffer, at: number, end: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let index = 0; index < 5 && at + index < end; index++) {
    const byte = buffer[at + index] as number;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return { value, next: at + index + 1 };
    scale *= 0x80;
  }
  return undefined;
}

/**
 * The protosocket-rpc form (PROTOCOL.md §12.3): the same Envelope, plus field 9, `error` (the
 * error body as JSON text). Codes are translated by the profile's table: Reply goes as Normal,
 * Error as Normal + `error`, then an End. Ids up to 2^53-1.
 */
function encodeProfileFrame(frame: RpcFrame, out: OutboundBuffer): void {
  const form = checkProfileOutbound(frame);
  const head = headOf(frame, form.wireCode);
  if (form.asError === true) {
    // An error needs a body to be seen as one (and JSON.stringify(undefined) is no text).
    const text = JSON.stringify(frame.data ?? FALLBACK_ERROR) as string | undefined;
    head.error = text ?? JSON.stringify(FALLBACK_ERROR);
    writeEnvelope(head, undefined, out);
  } else {
    writeEnvelope(head, frame.data, out);
  }
  if (form.thenEnd === true) writeEnvelope({ id: frame.id, code: 2 }, undefined, out);
}

const FALLBACK_ERROR = { message: 'call failed' };

function decodeProfileFrame(buffer: Buffer, start: number, end: number, root: protobuf.Root | undefined): RpcFrame {
  const bodyStart = bodyStartOf(buffer, start, end);
  checkEnvelopeFields(buffer, bodyStart, end);
  const envelope = decodeEnvelope(buffer, bodyStart, end);
  const id = toProfileCallId(envelope.id);
  const hasError = Object.hasOwn(envelope, 'error');
  const code = profileInboundCode(envelope.code, hasError);
  const frame = decodeContent(envelope, id, code, root);
  if (hasError) {
    if (frame.data !== undefined) throw new ProtocolError('an envelope carries a payload or an error, not both');
    frame.data = parseJson(envelope.error as string, 'payload');
  }
  return frame;
}

/** The wire type of each Envelope field, by field number (0 varint, 2 length-delimited). */
const FIELD_WIRE_TYPES: readonly (number | undefined)[] = [undefined, 0, 0, 2, 0, 2, 2, 2, 2, 2];
/** Fields that are protobuf strings: UTF-8, as prost requires. */
const STRING_FIELDS = new Set([3, 7, 9]);

/**
 * "Not our envelope", at the level of protobuf (PROTOCOL.md §12.4). protobufjs decodes a field
 * by its number whatever its wire type, so another message (the upstream examples' Request,
 * whose field 3 is a message and field 4 an enum) would be misread as an Envelope; this walks
 * the fields first and refuses a body where
 *  - an Envelope field (1-9) has another wire type than the Envelope's,
 *  - a field uses a group (3, 4) or an undefined wire type (6, 7), or field number 0,
 *  - a string field (pattern, json, error) is not UTF-8,
 *  - a field runs past the end of the body.
 * Fields above 9 are skipped, as proto3 and prost do.
 */
function checkEnvelopeFields(buffer: Buffer, start: number, end: number): void {
  let at = start;
  while (at < end) {
    const tag = readVarint(buffer, at, end);
    at = tag.next;
    const field = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    if (field === 0) throw new ProtocolError('not an envelope: field number 0');
    const expected = FIELD_WIRE_TYPES[field];
    if (expected !== undefined && wireType !== expected) {
      throw new ProtocolError(`not an envelope: field ${field} has wire type ${wireType}, the Envelope's has ${expected}`);
    }
    switch (wireType) {
      case 0:
        at = readVarint(buffer, at, end).next;
        break;
      case 1:
        at += 8;
        break;
      case 2: {
        const length = readVarint(buffer, at, end);
        at = length.next + length.value;
        if (at > end) break;
        if (STRING_FIELDS.has(field) && !isUtf8(buffer.subarray(length.next, at))) {
          throw new ProtocolError(`not an envelope: field ${field} is not UTF-8 text`);
        }
        break;
      }
      case 5:
        at += 4;
        break;
      default:
        throw new ProtocolError(`not an envelope: field ${field} has wire type ${wireType}`);
    }
    if (at > end) throw new ProtocolError(`not an envelope: field ${field} runs past the end of the body`);
  }
}

function readVarint(buffer: Buffer, at: number, end: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let index = 0; index < 10 && at + index < end; index++) {
    const byte = buffer[at + index] as number;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return { value, next: at + index + 1 };
    scale *= 0x80;
  }
  throw new ProtocolError('not an envelope: a varint runs past the end of the body');
}

/** uint64 on the wire, at most 2^53-1 under the profile. */
function toProfileCallId(value: unknown): number {
  // Above 2^53-1 the sum is not a safe integer (it rounds to 2^53 or more), so it is refused.
  const id = typeof value === 'number' ? value : isLong(value) ? (value.high >>> 0) * 0x1_0000_0000 + (value.low >>> 0) : NaN;
  if (isProfileCallId(id)) return id;
  throw new ProtocolError('envelope id must be at most 2^53-1');
}

/** uint64 on the wire (a Long, or a number where protobufjs has no Long), u32 in this protocol. */
function toCallId(value: unknown): number {
  if (typeof value === 'number') {
    if (isCallId(value)) return value;
  } else if (isLong(value)) {
    if (value.high === 0) return value.low >>> 0;
  }
  throw new ProtocolError('envelope id must be at most 2^32-1');
}

function isLong(value: unknown): value is protobuf.Long {
  return typeof value === 'object' && value !== null && typeof (value as protobuf.Long).low === 'number' && typeof (value as protobuf.Long).high === 'number';
}

/**
 * The reflected type of a protobufjs message instance: `$type` on its prototype (reflection),
 * or on its constructor. Duck-typed, so messages from another copy of protobufjs qualify.
 */
function messageTypeOf(value: object): protobuf.Type | undefined {
  const type = (value as { $type?: unknown }).$type ?? (value.constructor as { $type?: unknown } | undefined)?.$type;
  const candidate = type as protobuf.Type | undefined;
  return typeof candidate?.fullName === 'string' && typeof candidate.encode === 'function' ? candidate : undefined;
}

function encodeAny(message: object, type: protobuf.Type): Uint8Array {
  // fullName is absolute: ".example.v1.Point".
  const typeUrl = TYPE_URL_PREFIX + type.fullName.replace(/^\./, '');
  const value = type.encode(message).finish();
  return AnyType.encode({ type_url: typeUrl, value }).finish();
}

function decodeAny(any: DecodedAny, root: protobuf.Root | undefined): unknown {
  const typeUrl = typeof any.type_url === 'string' ? any.type_url : '';
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  if (root === undefined) {
    throw new ProtocolError(`cannot decode an Any payload of type "${typeUrl}": the codec was built without a root`);
  }
  let type: protobuf.Type;
  try {
    type = root.lookupType(name);
  } catch (err) {
    throw new ProtocolError(`Any payload of unknown type "${typeUrl}"`, { cause: err });
  }
  try {
    return type.decode(Object.hasOwn(any, 'value') ? any.value : new Uint8Array(0));
  } catch (err) {
    throw new ProtocolError(`invalid ${name} in Any payload: ${messageOf(err)}`, { cause: err });
  }
}
