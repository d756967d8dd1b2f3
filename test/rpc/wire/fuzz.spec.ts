import fc from 'fast-check';
import protobuf from 'protobufjs/light.js';
import { NEED_MORE, ProtocolError, ProtosocketError } from '../../../src/core/index.js';
import { isCallId, isControlCode } from '../../../src/rpc/wire/envelope.js';
import { ControlCode, type RpcFrame } from '../../../src/rpc/index.js';
import { split } from '../../helpers/chunks.js';
import { encode, feed } from '../../helpers/frames.js';
import { codecNames, codecs, defined, Point, type CodecName } from './support.js';

/**
 * Every decoder against random and mutated input, through FrameReader: it only ever delivers
 * well-formed frames or throws a ProtosocketError (ProtocolError, FrameTooLargeError), never
 * another exception and never a hang (feed() bounds its loop). Each property stops after
 * about 2 s, so the suite's time stays bounded whatever the machine.
 */
const TIME_LIMIT_MS = 2000;
const FUZZ_MAX_FRAME_BYTES = 64 * 1024;

const bytesArb = fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes));
/** JSON values as JSON gives them back (fast-check may produce -0, which JSON and MessagePack send as 0). */
const jsonValue = (maxDepth: number): fc.Arbitrary<unknown> => fc.jsonValue({ maxDepth }).map((value) => JSON.parse(JSON.stringify(value)) as unknown);
const text = fc.string({ unit: 'binary', maxLength: 24 });

/** msgpackr renames a map key "__proto__" (prototype-pollution guard), so such keys cannot round-trip through it. */
function hasProtoKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return false;
  return Object.keys(value).some((key) => key === '__proto__' || hasProtoKey((value as Record<string, unknown>)[key]));
}

/** Payloads each codec carries exactly. */
const payloads: Record<CodecName, fc.Arbitrary<unknown>> = {
  // JSON values, or bytes as the whole payload.
  json: fc.oneof(jsonValue(3), bytesArb),
  // MessagePack: bytes may also sit inside the value.
  msgpack: fc
    .oneof(jsonValue(3), bytesArb, fc.dictionary(text, fc.oneof(bytesArb, jsonValue(2)), { noNullPrototype: true }))
    .filter((value) => !hasProtoKey(value)),
  // Protobuf: raw bytes, JSON text, or a message as Any.
  protobuf: fc.oneof(
    jsonValue(3),
    bytesArb,
    fc.record({ x: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), y: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }).map((fields) => Point.create(fields)),
  ),
};

function frameArb(codec: CodecName): fc.Arbitrary<RpcFrame> {
  const meta = fc.dictionary(text, text, { noNullPrototype: true, maxKeys: 4 });
  return fc.record({
    id: fc.integer({ min: 0, max: 0xffff_ffff }),
    code: fc.constantFrom(...Object.values(ControlCode)),
    pattern: fc.option(text, { nil: undefined }),
    timeoutMs: fc.option(fc.integer({ min: 0, max: 0xffff_ffff }), { nil: undefined }),
    // Protobuf's map has no presence: an empty map decodes as no metadata.
    meta: fc.option(
      codec === 'protobuf' ? meta.filter((value) => Object.keys(value).length > 0) : codec === 'msgpack' ? meta.filter((value) => !hasProtoKey(value)) : meta,
      { nil: undefined },
    ),
    data: fc.option(payloads[codec], { nil: undefined }),
  });
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0x7f, 0x80, 0xc1, 0xce, 0xff) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(input);
  for (const mutation of mutations) {
    const at = bytes.length === 0 ? 0 : mutation.at % bytes.length;
    switch (mutation.kind) {
      case 'flip':
        if (bytes.length > 0) bytes[at] = (bytes[at] as number) ^ (1 << mutation.bit);
        break;
      case 'set':
        if (bytes.length > 0) bytes[at] = mutation.byte;
        break;
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), mutation.bytes, bytes.subarray(at)]);
        break;
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + mutation.count)]);
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
    }
  }
  return bytes;
}

/** Feeds `bytes` in `chunks`; anything but frames or a ProtosocketError fails the property. */
function survives(codec: CodecName, bytes: Buffer, cuts: readonly number[]): void {
  let frames: RpcFrame[];
  try {
    frames = feed(codecs[codec].decoder, split(bytes, cuts), FUZZ_MAX_FRAME_BYTES);
  } catch (err) {
    if (err instanceof ProtosocketError) return;
    throw err;
  }
  for (const frame of frames) {
    expect(isCallId(frame.id)).toBe(true);
    expect(isControlCode(frame.code)).toBe(true);
    if (frame.pattern !== undefined) expect(typeof frame.pattern).toBe('string');
    if (frame.meta !== undefined) expect(Object.values(frame.meta).every((value) => typeof value === 'string')).toBe(true);
  }
}

/**
 * For comparison: proto3 leaves default field values off the wire, so a decoded message holds
 * them on its prototype rather than as own fields; compare messages with their defaults filled in.
 */
function comparable(frame: RpcFrame): RpcFrame {
  const type = (frame.data as { $type?: protobuf.Type } | null | undefined)?.$type;
  if (!(type instanceof protobuf.Type)) return defined(frame);
  return defined({ ...frame, data: { $message: type.fullName, ...type.toObject(frame.data as protobuf.Message, { defaults: true }) } });
}

const cutsArb = fc.array(fc.nat(), { maxLength: 8 });

describe.each(codecNames)('%s codec fuzzing', (codec) => {
  const { encoder, decoder } = codecs[codec];

  it('decodes what it encodes, however the bytes are split', () => {
    fc.assert(
      fc.property(fc.array(frameArb(codec), { minLength: 1, maxLength: 3 }), cutsArb, (frames, cuts) => {
        const decoded = feed(decoder, split(encode(encoder, ...frames), cuts));
        expect(decoded.map(comparable)).toStrictEqual(frames.map(comparable));
      }),
      { numRuns: 1000, interruptAfterTimeLimit: TIME_LIMIT_MS },
    );
  });

  it('survives mutated frames: bits flipped, bytes set, inserted, deleted, truncated', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb(codec), { minLength: 1, maxLength: 3 }),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        cutsArb,
        (frames, mutations, cuts) => survives(codec, mutate(encode(encoder, ...frames), mutations), cuts),
      ),
      { numRuns: 3000, interruptAfterTimeLimit: TIME_LIMIT_MS },
    );
  });

  if (codec !== 'json') {
    it('throws only ProtocolError from frameSize and decode, even without FrameReader', () => {
      fc.assert(
        fc.property(fc.array(frameArb(codec), { minLength: 1, maxLength: 3 }), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (frames, mutations) => {
          const bytes = mutate(encode(encoder, ...frames), mutations);
          try {
            for (let start = 0; start < bytes.length; ) {
              const size = decoder.frameSize(bytes, start, bytes.length);
              if (size === NEED_MORE || start + size > bytes.length) break;
              decoder.decode(bytes, start, start + size);
              start += size;
            }
          } catch (err) {
            if (!(err instanceof ProtocolError)) throw err;
          }
        }),
        { numRuns: 3000, interruptAfterTimeLimit: TIME_LIMIT_MS },
      );
    });
  }

  it('survives random bytes', () => {
    // Half the inputs start with the codec's own first byte, so they get past the header.
    const first = encode(encoder, { id: 1, code: ControlCode.Reply, data: 1 }).subarray(0, 1);
    const input = fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 256 })).map(([lead, bytes]) => (lead ? Buffer.concat([first, bytes]) : Buffer.from(bytes)));
    fc.assert(
      fc.property(input, cutsArb, (bytes, cuts) => survives(codec, bytes, cuts)),
      { numRuns: 3000, interruptAfterTimeLimit: TIME_LIMIT_MS },
    );
  });
});
