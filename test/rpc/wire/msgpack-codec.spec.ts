import { Packr, unpack } from 'msgpackr';
import { EncodeError, FrameTooLargeError, NEED_MORE, OutboundBuffer, ProtocolError } from '../../../src/core/index.js';
import { FrameReader } from '../../../src/core/frame-reader.js';
import { createMsgpackCodec, msgpackCodec } from '../../../src/rpc/wire/msgpack-codec.js';
import { ControlCode, type RpcFrame } from '../../../src/rpc/index.js';
import { bytewise } from '../../helpers/chunks.js';
import { decodeError, decodeOne, encode, feed, MiB } from '../../helpers/frames.js';
import { defined } from './support.js';

const { encoder: msgpackEncoder, decoder: msgpackDecoder } = msgpackCodec;

/** A frame around `body` as msgpack-encoded by a plain Packr (any key order, any value). */
const plain = new Packr({ useRecords: false, variableMapSize: true });
function frameOf(body: unknown, declared?: number): Buffer {
  const packed = plain.pack(body);
  const header = Buffer.from([0xce, 0, 0, 0, 0]);
  header.writeUInt32BE(declared ?? packed.length, 1);
  return Buffer.concat([header, packed]);
}

describe('msgpack codec: framing', () => {
  const request: RpcFrame = { id: 9, code: ControlCode.Normal, pattern: 'sum', timeoutMs: 100, meta: { a: 'b' }, data: [1, 2] };

  it('writes 0xCE, the body length as a big-endian u32, then one MessagePack map', () => {
    const bytes = encode(msgpackEncoder, request);
    expect(bytes[0]).toBe(0xce);
    expect(bytes.readUInt32BE(1)).toBe(bytes.length - 5);
    expect(unpack(bytes.subarray(5))).toEqual({ i: 9, c: 0, p: 'sum', t: 100, m: { a: 'b' }, d: [1, 2] });
  });

  it('leaves absent fields out instead of writing nil, so null data stays distinct', () => {
    expect(unpack(encode(msgpackEncoder, { id: 1, code: ControlCode.Reply }).subarray(5))).toEqual({ i: 1, c: 3 });
    const withNull = encode(msgpackEncoder, { id: 1, code: ControlCode.Reply, data: null });
    expect(unpack(withNull.subarray(5))).toEqual({ i: 1, c: 3, d: null });
    expect(decodeOne(msgpackDecoder, withNull)).toHaveProperty('data', null);
    expect(decodeOne(msgpackDecoder, encode(msgpackEncoder, { id: 1, code: ControlCode.Reply })).data).toBeUndefined();
  });

  it('accepts the envelope keys in any order', () => {
    const frame = decodeOne(msgpackDecoder, frameOf({ d: 'x', m: { k: 'v' }, t: 5, p: 'p', c: 5, i: 0 }));
    expect(defined(frame)).toStrictEqual({ id: 0, code: ControlCode.Event, pattern: 'p', timeoutMs: 5, meta: { k: 'v' }, data: 'x' });
  });

  it('accepts an id written as a 64-bit integer', () => {
    const body = Buffer.from([0x82, 0xa1, 0x69, 0xcf, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x63, 0x03]);
    const header = Buffer.from([0xce, 0, 0, 0, body.length]);
    expect(decodeOne(msgpackDecoder, Buffer.concat([header, body])).id).toBe(0xffff_ffff);
  });

  it('rounds a fractional time budget up to whole milliseconds', () => {
    expect(decodeOne(msgpackDecoder, encode(msgpackEncoder, { id: 1, code: 0, pattern: 'p', timeoutMs: 1.2 })).timeoutMs).toBe(2);
  });

  it('decodes frames fed one byte at a time', () => {
    const frames: RpcFrame[] = [request, { id: 9, code: ControlCode.Reply, data: { sum: 3, text: 'Zoë ✓ 😀' } }, { id: 0, code: ControlCode.GoAway }];
    expect(feed(msgpackDecoder, bytewise(encode(msgpackEncoder, ...frames))).map(defined)).toStrictEqual(frames);
  });

  it('never overwrites the bytes of a frame already queued (msgpackr reuses its buffer)', () => {
    const out = new OutboundBuffer();
    const big: RpcFrame = { id: 1, code: ControlCode.Reply, data: 'x'.repeat(32 * 1024) };
    const frames: RpcFrame[] = [big];
    for (let id = 2; id < 500; id++) frames.push({ id, code: ControlCode.Reply, data: { id, padding: 'y'.repeat(id) } });
    for (const frame of frames) msgpackEncoder.encode(frame, out);
    expect(feed(msgpackDecoder, out.take().map((segment) => Buffer.from(segment))).map(defined)).toStrictEqual(frames);
  });

  it('refuses an id or a code no peer would accept, before writing anything', () => {
    const out = new OutboundBuffer();
    expect(() => msgpackEncoder.encode({ id: -1, code: 0 }, out)).toThrow(EncodeError);
    expect(() => msgpackEncoder.encode({ id: 2 ** 32, code: 0 }, out)).toThrow(EncodeError);
    expect(() => msgpackEncoder.encode({ id: 1, code: 10 as ControlCode }, out)).toThrow(EncodeError);
    expect(out.length).toBe(0);
  });
});

describe('msgpack codec: binary payloads', () => {
  it('sends a Buffer as MessagePack bin and delivers a Buffer', () => {
    const payload = Buffer.from([0, 1, 2, 0xff]);
    const bytes = encode(msgpackEncoder, { id: 2, code: ControlCode.Reply, data: payload });
    expect(bytes.includes(Buffer.from([0xc4, 4, 0, 1, 2, 0xff]))).toBe(true); // bin 8, raw bytes
    const frame = decodeOne(msgpackDecoder, bytes);
    expect(Buffer.isBuffer(frame.data)).toBe(true);
    expect(frame.data).toEqual(payload);
  });

  it('sends a plain Uint8Array as bin too, and a large one as bin 32', () => {
    const small = decodeOne(msgpackDecoder, encode(msgpackEncoder, { id: 2, code: ControlCode.Reply, data: new Uint8Array([7, 8]) }));
    expect(Buffer.isBuffer(small.data)).toBe(true);
    expect([...(small.data as Buffer)]).toEqual([7, 8]);
    const payload = Buffer.alloc(100_000, 0x5a);
    const bytes = encode(msgpackEncoder, { id: 2, code: ControlCode.Reply, data: payload });
    // header, fixmap, "i" 2, "c" 3, "d", bin 32 header, the bytes
    expect(bytes.length).toBe(5 + 1 + 3 + 3 + 2 + 5 + payload.length);
    const large = decodeOne(msgpackDecoder, bytes);
    expect(Buffer.isBuffer(large.data)).toBe(true);
    expect((large.data as Buffer).equals(payload)).toBe(true);
  });

  it('delivers nested byte payloads as Buffers', () => {
    const frame = decodeOne(msgpackDecoder, encode(msgpackEncoder, { id: 2, code: ControlCode.Reply, data: { file: Buffer.from('hi') } }));
    expect(Buffer.isBuffer((frame.data as { file: unknown }).file)).toBe(true);
  });
});

describe('msgpack codec: refusing bad frames', () => {
  it('refuses a first byte other than 0xCE as soon as it arrives', () => {
    expect(() => msgpackDecoder.frameSize(Buffer.from([0xcd]), 0, 1)).toThrow(ProtocolError);
    expect(decodeError(msgpackDecoder, Buffer.from([0x93, 1, 2, 3]))).toBeInstanceOf(ProtocolError);
  });

  it('waits for the whole 5-byte header', () => {
    const header = Buffer.from([0xce, 0, 0, 0, 9]);
    for (let end = 1; end < 5; end++) expect(msgpackDecoder.frameSize(header, 0, end)).toBe(NEED_MORE);
    expect(msgpackDecoder.frameSize(header, 0, 5)).toBe(14);
  });

  it('computes 5 + 0xFFFFFFFF without overflow, and FrameReader refuses it from the header', () => {
    const header = Buffer.from([0xce, 0xff, 0xff, 0xff, 0xff]);
    expect(msgpackDecoder.frameSize(header, 0, 5)).toBe(4_294_967_300);
    const reader = new FrameReader(msgpackDecoder, 16 * MiB);
    reader.push(header);
    let error: unknown;
    try {
      reader.read();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FrameTooLargeError);
    expect(error).toMatchObject({ size: 4_294_967_300, limit: 16 * MiB });
  });

  it('refuses a frame over maxFrameBytes before its body arrives', () => {
    const reader = new FrameReader(msgpackDecoder, 64);
    reader.push(Buffer.from([0xce, 0, 0, 0, 60])); // 65 bytes with the header
    expect(() => reader.read()).toThrow(FrameTooLargeError);
  });

  it('refuses an empty body', () => {
    expect(decodeError(msgpackDecoder, Buffer.from([0xce, 0, 0, 0, 0]))).toBeInstanceOf(ProtocolError);
  });

  it('refuses a body holding more than one value (declared length too long)', () => {
    const packed = plain.pack({ i: 1, c: 3 });
    const bytes = Buffer.concat([Buffer.from([0xce, 0, 0, 0, packed.length + 1]), packed, Buffer.from([0x00])]);
    expect(decodeError(msgpackDecoder, bytes)).toBeInstanceOf(ProtocolError);
  });

  it('refuses a value cut short by the declared length, even when the next frame would complete it', () => {
    const packed = plain.pack({ i: 1, c: 3, d: 'hello' });
    const next = encode(msgpackEncoder, { id: 2, code: ControlCode.Reply, data: 'world' });
    const bytes = Buffer.concat([Buffer.from([0xce, 0, 0, 0, packed.length - 2]), packed.subarray(0, packed.length - 2), next]);
    expect(decodeError(msgpackDecoder, bytes)).toBeInstanceOf(ProtocolError);
  });

  it.each([
    ['an array', [1, 3]],
    ['a string', 'hello'],
    ['nil', null],
    ['a map without i', { c: 3 }],
    ['a map without c', { i: 1 }],
    ['a negative id', { i: -1, c: 3 }],
    ['an id above 2^32-1', { i: 2 ** 32, c: 3 }],
    ['a fractional id', { i: 1.5, c: 3 }],
    ['a string id', { i: '1', c: 3 }],
    ['an unknown control code', { i: 1, c: 10 }],
    ['a negative control code', { i: 1, c: -1 }],
    ['a non-string pattern', { i: 1, c: 0, p: 7 }],
    ['a negative timeout', { i: 1, c: 0, t: -1 }],
    ['a fractional timeout', { i: 1, c: 0, t: 0.5 }],
    ['a timeout above 2^32-1', { i: 1, c: 0, t: 2 ** 32 }],
    ['meta that is an array', { i: 1, c: 0, m: ['a'] }],
    ['meta with a non-string value', { i: 1, c: 0, m: { a: 1 } }],
    ['an unknown key', { i: 1, c: 0, x: 1 }],
  ])('refuses a body that is %s', (_what, body) => {
    expect(decodeError(msgpackDecoder, frameOf(body))).toBeInstanceOf(ProtocolError);
  });

  it('turns msgpackr extension failures into protocol errors', () => {
    // ext 0x65 (msgpackr's Error) whose content is not the array it expects.
    const bytes = Buffer.from([0xce, 0, 0, 0, 3, 0xd4, 0x65, 0x00]);
    expect(decodeError(msgpackDecoder, bytes)).toBeInstanceOf(ProtocolError);
  });
});

describe('createMsgpackCodec', () => {
  it('passes payload options through and keeps the envelope standard', () => {
    const codec = createMsgpackCodec({ msgpackr: { useFloat32: 1 } });
    const bytes = encode(codec.encoder, { id: 1, code: ControlCode.Reply, data: 0.5 });
    expect(bytes.includes(Buffer.from([0xca]))).toBe(true); // float 32
    expect(decodeOne(msgpackCodec.decoder, bytes).data).toBe(0.5);
  });
});

describe('msgpack codec: bad content fails one call, not the connection', () => {
  it.each([
    ['a non-string pattern', { i: 1, c: 0, p: 7 }],
    ['a negative timeout', { i: 1, c: 0, t: -1 }],
    ['meta that is an array', { i: 1, c: 0, m: ['a'] }],
    ['meta with a non-string value', { i: 1, c: 0, m: { a: 1 } }],
  ])('returns a frame with %s marked invalid, with its id and code', (_what, body) => {
    const frame = decodeOne(msgpackDecoder, frameOf(body));
    expect(frame).toMatchObject({ id: 1, code: ControlCode.Normal });
    expect(frame.invalid).toBeInstanceOf(ProtocolError);
  });

  it('names the key whose meta value is not a string', () => {
    expect(decodeOne(msgpackDecoder, frameOf({ i: 1, c: 0, m: { ok: 'y', x: 1 } })).invalid?.message).toBe('meta value for key "x" must be a string, got number');
  });

  it('marks a body msgpackr cannot read invalid when its id and code come first, and throws otherwise', () => {
    const packed = plain.pack({ i: 7, c: 0, d: 'hello' });
    const cut = Buffer.concat([Buffer.from([0xce, 0, 0, 0, packed.length - 2]), packed.subarray(0, packed.length - 2)]);
    expect(decodeOne(msgpackDecoder, cut)).toMatchObject({ id: 7, code: ControlCode.Normal, invalid: expect.any(ProtocolError) });
    const dataFirst = plain.pack({ d: [1, 2], i: 7, c: 0 });
    const cutFirst = Buffer.concat([Buffer.from([0xce, 0, 0, 0, dataFirst.length - 4]), dataFirst.subarray(0, dataFirst.length - 4)]);
    expect(() => decodeOne(msgpackDecoder, cutFirst)).toThrow(ProtocolError);
  });

  it('keeps refusing a bad id, a bad code, an unknown key and a body that is not a map', () => {
    for (const body of [{ i: -1, c: 3 }, { i: 1, c: 10 }, { i: 1, c: 0, x: 1 }, [1, 3]]) {
      expect(() => decodeOne(msgpackDecoder, frameOf(body))).toThrow(ProtocolError);
    }
  });

  it('reads the id from the first bytes of a frame (peekId), past scalar and string entries', () => {
    const bytes = encode(msgpackEncoder, { id: 0xfeed_beef, code: ControlCode.Normal, pattern: 'p', data: 'x'.repeat(1000) });
    expect(msgpackDecoder.peekId?.(bytes, 0, 64)).toBe(0xfeed_beef);
    const later = frameOf({ c: 0, p: 'pattern', t: 5, i: 42, d: 'x'.repeat(1000) });
    expect(msgpackDecoder.peekId?.(later, 0, 64)).toBe(42);
    expect(msgpackDecoder.peekId?.(frameOf({ d: [1], i: 42 }), 0, 64)).toBeUndefined();
    expect(msgpackDecoder.peekId?.(bytes, 0, 6)).toBeUndefined();
  });
});
