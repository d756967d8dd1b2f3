import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import fullProtobuf from 'protobufjs';
import protobuf from 'protobufjs/light.js';
import { EncodeError, FrameTooLargeError, NEED_MORE, OutboundBuffer, ProtocolError } from '../../../src/core/index.js';
import { FrameReader, INCOMPLETE } from '../../../src/core/frame-reader.js';
import { createProtobufCodec, EnvelopeType, protobufCodec } from '../../../src/rpc/wire/protobuf-codec.js';
import { varintFrameSize, varintSize, writeVarint } from '../../../src/rpc/wire/varint.js';
import { ControlCode, type RpcFrame } from '../../../src/rpc/index.js';
import { bytewise } from '../../helpers/chunks.js';
import { decodeError, decodeOne, encode, feed, MiB } from '../../helpers/frames.js';
import { codecs, defined, exampleRoot, Point, Quote } from './support.js';

const { encoder, decoder } = codecs.protobuf;

/** A frame holding `envelope` as protobufjs encodes it (field names as in the descriptor). */
function envelopeFrame(envelope: Record<string, unknown>): Buffer {
  return Buffer.from(EnvelopeType.encodeDelimited(envelope).finish());
}

describe('protobuf codec: the envelope', () => {
  it('writes what protobufjs encodeDelimited writes for the whole Envelope', () => {
    const meta = fc.option(fc.dictionary(fc.string(), fc.string(), { noNullPrototype: true }), { nil: undefined });
    const payload = fc.oneof(
      fc.constant(undefined),
      fc.uint8Array({ maxLength: 40 }).map((bytes) => ({ raw: Buffer.from(bytes) })),
      fc.jsonValue().map((value) => ({ json: value })),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 8 }),
        fc.option(fc.string(), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 0xffff_ffff }), { nil: undefined }),
        meta,
        payload,
        (id, code, pattern, timeoutMs, metadata, body) => {
          const data = body === undefined ? undefined : 'raw' in body ? body.raw : body.json;
          const frame: RpcFrame = { id, code: code as ControlCode, pattern, timeoutMs, meta: metadata, data };
          const envelope: Record<string, unknown> = { id, code, meta: metadata };
          if (pattern !== undefined) envelope.pattern = pattern;
          if (timeoutMs !== undefined) envelope.timeout_ms = timeoutMs;
          if (body !== undefined && 'raw' in body) envelope.raw = body.raw;
          if (body !== undefined && 'json' in body) envelope.json = JSON.stringify(body.json);
          expect(encode(encoder, frame).toString('hex')).toBe(envelopeFrame(envelope).toString('hex'));
        },
      ),
      { numRuns: 300, interruptAfterTimeLimit: 2000 },
    );
  });

  it('is the Envelope that docs/protosocket.proto defines', () => {
    const root = new fullProtobuf.Root();
    root.loadSync(fileURLToPath(new URL('../../../docs/protosocket.proto', import.meta.url)), { keepCase: true });
    expect(root.lookupType('protosocket.v1.Envelope').toJSON()).toEqual(EnvelopeType.toJSON());
  });

  it('leaves out proto3 defaults as prost does: a Normal frame has no field 2, an event no field 1', () => {
    expect(encode(encoder, { id: 3, code: ControlCode.Normal, pattern: 'p' }).toString('hex')).toBe('0508031a0170');
    expect(encode(encoder, { id: 0, code: ControlCode.Event, pattern: 'p' }).toString('hex')).toBe('0510051a0170');
    expect(encode(encoder, { id: 0, code: ControlCode.Normal }).toString('hex')).toBe('00');
  });

  it('keeps an empty pattern and a zero timeout distinct from absent ones', () => {
    const frame = decodeOne(decoder, encode(encoder, { id: 1, code: ControlCode.Normal, pattern: '', timeoutMs: 0 }));
    expect(frame.pattern).toBe('');
    expect(frame.timeoutMs).toBe(0);
    const bare = decodeOne(decoder, encode(encoder, { id: 1, code: ControlCode.Normal }));
    expect(bare.pattern).toBeUndefined();
    expect(bare.timeoutMs).toBeUndefined();
  });

  it('decodes empty metadata as none (a map has no presence on the wire)', () => {
    expect(decodeOne(decoder, encode(encoder, { id: 1, code: ControlCode.Normal, meta: {} })).meta).toBeUndefined();
  });

  it('decodes an envelope written by a plain protobuf encoder, unknown fields skipped', () => {
    // Field 15 (varint 1) is not in the Envelope: skipped, as protobuf readers do.
    const body = Buffer.concat([Buffer.from('08071003', 'hex'), Buffer.from([0x78, 0x01]), Buffer.from('3a0131', 'hex')]);
    const frame = decodeOne(decoder, Buffer.concat([Buffer.from([body.length]), body]));
    expect(defined(frame)).toStrictEqual({ id: 7, code: ControlCode.Reply, data: 1 });
  });

  it('accepts ids up to 2^32-1 in the uint64 field and refuses larger ones', () => {
    expect(decodeOne(decoder, envelopeFrame({ id: 0xffff_ffff, code: 3 })).id).toBe(0xffff_ffff);
    expect(decodeError(decoder, envelopeFrame({ id: 2 ** 32, code: 3 }))).toBeInstanceOf(ProtocolError);
    expect(decodeError(decoder, envelopeFrame({ id: { low: -1, high: -1, unsigned: true } /* 2^64-1 */, code: 3 }))).toBeInstanceOf(ProtocolError);
  });

  it('refuses an unknown control code (protosocket-rpc would read it as Cancel)', () => {
    expect(decodeError(decoder, envelopeFrame({ id: 1, code: 10 }))).toBeInstanceOf(ProtocolError);
    expect(decodeError(decoder, envelopeFrame({ id: 1, code: 257 }))).toBeInstanceOf(ProtocolError);
  });

  it('refuses two payload fields, invalid JSON text, and a body cut inside a field', () => {
    expect(decodeError(decoder, Buffer.from('09080110033a01313201ff', 'hex'))).toBeInstanceOf(ProtocolError);
    expect(decodeError(decoder, envelopeFrame({ id: 1, code: 3, json: '{nope' }))).toBeInstanceOf(ProtocolError);
    expect(decodeError(decoder, Buffer.from('050801100332', 'hex'))).toBeInstanceOf(ProtocolError); // raw field, no length
    expect(decodeError(decoder, Buffer.from('0608011003320a', 'hex'))).toBeInstanceOf(ProtocolError); // raw length 10 past the end
    expect(decodeError(decoder, Buffer.from('0208ff', 'hex'))).toBeInstanceOf(ProtocolError); // id varint cut off
  });

  it('refuses an id or a code no peer would accept, before writing anything', () => {
    const out = new OutboundBuffer();
    expect(() => encoder.encode({ id: 2 ** 32, code: 0 }, out)).toThrow(EncodeError);
    expect(() => encoder.encode({ id: 1, code: 12 as ControlCode }, out)).toThrow(EncodeError);
    expect(out.length).toBe(0);
  });

  it('decodes frames fed one byte at a time', () => {
    const frames: RpcFrame[] = [
      { id: 1, code: ControlCode.Normal, pattern: '{"cmd":"sum"}', timeoutMs: 300, meta: { k: 'v' }, data: [1, 2] },
      { id: 1, code: ControlCode.Reply, data: Point.create({ x: 1, y: 2 }) },
      { id: 2, code: ControlCode.Reply, data: Buffer.alloc(300, 1) },
      { id: 0, code: ControlCode.GoAway },
    ];
    expect(feed(decoder, bytewise(encode(encoder, ...frames))).map(defined)).toStrictEqual(frames);
  });
});

describe('protobuf codec: payloads', () => {
  it('sends a Buffer as the raw field and delivers a Buffer', () => {
    const payload = Buffer.from([0, 1, 0xff]);
    const bytes = encode(encoder, { id: 2, code: ControlCode.Reply, data: payload });
    expect(bytes.toString('hex')).toBe('09' + '0802' + '1003' + '32030001ff');
    const frame = decodeOne(decoder, bytes);
    expect(Buffer.isBuffer(frame.data)).toBe(true);
    expect(frame.data).toEqual(payload);
  });

  it('queues a large byte payload by reference, and delivers a plain Uint8Array as a Buffer', () => {
    const payload = new Uint8Array(200 * 1024).fill(9);
    const out = new OutboundBuffer();
    encoder.encode({ id: 2, code: ControlCode.Reply, data: payload }, out);
    const segments = out.take();
    expect(segments).toContain(payload);
    const frame = decodeOne(decoder, Buffer.concat(segments));
    expect(Buffer.isBuffer(frame.data)).toBe(true);
    expect(Buffer.compare(frame.data as Buffer, payload)).toBe(0);
  });

  it('sends plain values, such as Nest error bodies, as JSON text', () => {
    const body = { status: 'error', message: 'There is no matching message handler defined in the remote service.' };
    const bytes = encode(encoder, { id: 4, code: ControlCode.Error, data: body });
    expect(EnvelopeType.decodeDelimited(bytes).toJSON()).toMatchObject({ json: JSON.stringify(body) });
    expect(decodeOne(decoder, bytes).data).toEqual(body);
  });

  it('sends a message instance as google.protobuf.Any and decodes it with the root', () => {
    const quote = Quote.create({ symbol: 'ACME', price: 12.5, tags: ['a', 'b'] });
    const bytes = encode(encoder, { id: 4, code: ControlCode.Reply, data: quote });
    const any = (EnvelopeType.decodeDelimited(bytes) as unknown as { message: { type_url: string } }).message;
    expect(any.type_url).toBe('type.googleapis.com/example.v1.Quote');
    const data = decodeOne(decoder, bytes).data;
    expect(data).toBeInstanceOf(Quote.ctor);
    expect(Quote.toObject(data as protobuf.Message)).toEqual({ symbol: 'ACME', price: 12.5, tags: ['a', 'b'] });
  });

  it('finds the type of a message through its constructor too', () => {
    const point = new Point.ctor({ x: -1, y: 5 });
    const data = decodeOne(decoder, encode(encoder, { id: 4, code: ControlCode.Reply, data: point })).data;
    expect(Point.toObject(data as protobuf.Message)).toEqual({ x: -1, y: 5 });
  });

  it('refuses an Any payload without a root, or of a type the root lacks', () => {
    const bytes = encode(encoder, { id: 4, code: ControlCode.Reply, data: Point.create({ x: 1, y: 1 }) });
    expect(decodeError(protobufCodec.decoder, bytes)).toBeInstanceOf(ProtocolError);
    const otherRoot = protobuf.Root.fromJSON({ nested: { other: { nested: { Thing: { fields: { a: { type: 'string', id: 1 } } } } } } });
    expect(decodeError(createProtobufCodec({ root: otherRoot }).decoder, bytes)).toBeInstanceOf(ProtocolError);
    expect(decodeOne(createProtobufCodec({ root: exampleRoot }).decoder, bytes).data).toBeInstanceOf(Point.ctor);
  });

  it('refuses an Any whose value is not a valid message of its type', () => {
    const any = { type_url: 'type.googleapis.com/example.v1.Point', value: Buffer.from([0x0a, 0x05, 0x01]) };
    expect(decodeError(decoder, envelopeFrame({ id: 1, code: 3, message: any }))).toBeInstanceOf(ProtocolError);
  });
});

describe('protobuf codec: the length delimiter', () => {
  const size = (bytes: number[]): number => varintFrameSize(Buffer.from(bytes), 0, bytes.length);

  it('reads 1- to 10-byte varints, minimal or not', () => {
    expect(size([0x00])).toBe(1);
    expect(size([0x7f])).toBe(1 + 127);
    expect(size([0xac, 0x02])).toBe(2 + 300);
    expect(size([0x80, 0x00])).toBe(2); // over-long zero is still valid protobuf
    expect(size([0xff, 0xff, 0xff, 0xff, 0x0f])).toBe(5 + 0xffff_ffff);
    expect(size([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])).toBe(10);
  });

  it('waits while fewer than 10 bytes have no terminator', () => {
    for (let count = 0; count < 10; count++) expect(size(new Array<number>(count).fill(0xff))).toBe(NEED_MORE);
  });

  const varint = (value: number): number[] => {
    const out = new OutboundBuffer();
    writeVarint(out, value);
    return [...Buffer.concat(out.take())];
  };

  it('refuses 10 bytes without a terminator, a 10th byte above 1, and frame sizes above 2^53-1', () => {
    expect(() => size(new Array<number>(10).fill(0xff))).toThrow(ProtocolError);
    expect(() => size([...new Array<number>(9).fill(0x80), 0x02])).toThrow(ProtocolError);
    expect(() => size([...new Array<number>(9).fill(0xff), 0x01])).toThrow(ProtocolError); // 2^64-1
    expect(() => size([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10])).toThrow(ProtocolError); // 2^53
    expect(() => size(varint(2 ** 53 - 1))).toThrow(ProtocolError); // 8 delimiter bytes + 2^53-1
    expect(size(varint(2 ** 53 - 1 - 8))).toBe(2 ** 53 - 1);
  });

  it('does not wedge on a corrupt delimiter (protosocket-prost waits for ever): FrameReader fails at the 10th byte', () => {
    const reader = new FrameReader(decoder, 16 * MiB);
    for (let index = 0; index < 9; index++) {
      reader.push(Buffer.from([0xff]));
      expect(reader.read()).toBe(INCOMPLETE);
    }
    reader.push(Buffer.from([0xff]));
    expect(() => reader.read()).toThrow(ProtocolError);
  });

  it('lets FrameReader refuse a length over maxFrameBytes from the delimiter alone', () => {
    const reader = new FrameReader(decoder, 100);
    reader.push(Buffer.from([0x64])); // 100-byte body: 101 bytes framed
    expect(() => reader.read()).toThrow(FrameTooLargeError);
    const fits = new FrameReader(decoder, 101);
    fits.push(Buffer.from([0x64]));
    expect(fits.read()).toBe(INCOMPLETE);
  });

  it('writes what it reads', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (value) => {
        const out = new OutboundBuffer();
        writeVarint(out, value);
        const bytes = Buffer.concat(out.take());
        expect(bytes.length).toBe(varintSize(value));
        if (value + bytes.length <= Number.MAX_SAFE_INTEGER) expect(varintFrameSize(bytes, 0, bytes.length)).toBe(bytes.length + value);
        expect(Buffer.from(protobuf.Writer.create().uint64(value).finish())).toEqual(bytes);
      }),
      { numRuns: 500, interruptAfterTimeLimit: 2000 },
    );
  });
});

describe('protobuf codec: bad content fails one call, not the connection', () => {
  it('returns frames with invalid JSON or an Any it cannot decode marked invalid, with their id', () => {
    const json = decodeOne(decoder, envelopeFrame({ id: 5, code: 3, json: '{nope' }));
    expect(json).toMatchObject({ id: 5, code: ControlCode.Reply, invalid: expect.any(ProtocolError) });
    const any = { type_url: 'type.googleapis.com/example.v1.Nope', value: Buffer.alloc(0) };
    expect(decodeOne(decoder, envelopeFrame({ id: 6, code: 0, pattern: 'p', message: any })).invalid).toBeInstanceOf(ProtocolError);
  });

  it('marks a body protobufjs cannot parse invalid when its id and code come first, and throws when they do not', () => {
    expect(decodeOne(decoder, Buffer.from('0608011003320a', 'hex'))).toMatchObject({ id: 1, code: ControlCode.Reply, invalid: expect.any(ProtocolError) });
    expect(() => decodeOne(decoder, Buffer.from('0208ff', 'hex'))).toThrow(ProtocolError);
  });

  it('reads the id from the first bytes of a frame (peekId)', () => {
    const bytes = encode(encoder, { id: 0xfeed_beef, code: ControlCode.Normal, pattern: 'p', data: Buffer.alloc(1000) });
    expect(decoder.peekId?.(bytes, 0, 64)).toBe(0xfeed_beef);
    // Id 0 is absent on the wire: a field above 2 first means the defaults.
    const event = encode(encoder, { id: 0, code: ControlCode.Event, pattern: 'p', data: Buffer.alloc(1000) });
    expect(decoder.peekId?.(event, 0, 64)).toBe(0);
    expect(decoder.peekId?.(bytes, 0, 3)).toBeUndefined();
  });
});
