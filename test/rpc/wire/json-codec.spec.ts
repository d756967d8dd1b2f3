import fc from 'fast-check';
import { EncodeError, OutboundBuffer, ProtocolError } from '../../../src/core/index.js';
import { ControlCode, jsonCodec, MAX_CALL_ID, type RpcFrame } from '../../../src/rpc/index.js';
import { bytewise, split } from '../../helpers/chunks.js';
import { thrownBy } from '../../helpers/errors.js';
import { decodeAll, decodeOne, encode, feed, u16, u32 } from '../../helpers/frames.js';
import { defined } from './support.js';

const { encoder: jsonEncoder, decoder: jsonDecoder } = jsonCodec;

/** A hand-built envelope: u32 length, code, flags, u32 id, then `rest` verbatim. */
function envelope(code: number, flags: number, rest: Buffer = Buffer.alloc(0), id = 1): Buffer {
  const header = Buffer.alloc(10);
  header.writeUInt32BE(6 + rest.length, 0);
  header[4] = code;
  header[5] = flags;
  header.writeUInt32BE(id, 6);
  return Buffer.concat([header, rest]);
}

const codes = Object.entries(ControlCode);

const shapes: [string, Omit<RpcFrame, 'code'>][] = [
  ['id only', { id: 1 }],
  ['id 0', { id: 0 }],
  ['largest id', { id: MAX_CALL_ID }],
  ['pattern', { id: 2, pattern: 'users.get' }],
  ['empty pattern', { id: 2, pattern: '' }],
  ['timeout', { id: 3, timeoutMs: 1500 }],
  ['timeout 0', { id: 3, timeoutMs: 0 }],
  ['meta', { id: 4, meta: { trace: 'abc', 'x-user': 'é' } }],
  ['empty meta', { id: 4, meta: {} }],
  ['JSON data', { id: 5, data: { list: [1, 'two', null, true], nested: { value: 3.5 } } }],
  ['null data', { id: 5, data: null }],
  ['zero data', { id: 5, data: 0 }],
  ['empty string data', { id: 5, data: '' }],
  ['false data', { id: 5, data: false }],
  ['bytes data', { id: 6, data: Buffer.from([0, 1, 2, 254, 255]) }],
  ['empty bytes data', { id: 6, data: Buffer.alloc(0) }],
  ['every field', { id: 7, pattern: 'p/q', timeoutMs: 250, meta: { a: 'b' }, data: ['x', { y: 1 }] }],
  ['every field, bytes data', { id: 8, pattern: 'upload', timeoutMs: 9, meta: { k: 'v' }, data: Buffer.from('raw') }],
];

const cases = codes.flatMap(([name, code]) => shapes.map(([shape, fields]) => [name, shape, { ...fields, code }] as const));

describe('json codec', () => {
  it.each(cases)('round trip: %s, %s', (_code, _shape, frame) => {
    expect(decodeOne(jsonDecoder, encode(jsonEncoder, frame))).toEqual(frame);
  });

  it('absent fields decode as undefined, not as null or empty values', () => {
    const decoded = decodeOne(jsonDecoder, encode(jsonEncoder, { id: 9, code: ControlCode.End }));
    expect(decoded).toStrictEqual({ id: 9, code: ControlCode.End, pattern: undefined, data: undefined, timeoutMs: undefined, meta: undefined });
    // code + flags + id after the length: nothing else on the wire.
    expect(encode(jsonEncoder, { id: 9, code: ControlCode.End })).toHaveLength(10);
  });

  describe('byte payloads', () => {
    it.each([
      ['small (copied out of the read buffer)', 300],
      ['large (a view of the read buffer)', 64 * 1024],
    ])('a Buffer arrives as a Buffer with the same bytes, not base64: %s', (_name, size) => {
      const payload = Buffer.alloc(size);
      for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
      const wire = encode(jsonEncoder, { id: 1, code: ControlCode.Reply, data: payload });

      // The envelope (4 + 6 bytes) and then the payload verbatim.
      expect(wire).toHaveLength(10 + size);
      expect(wire[5]).toBe(0x10);
      expect(wire.subarray(10).equals(payload)).toBe(true);

      const decoded = decodeOne(jsonDecoder, wire);
      expect(Buffer.isBuffer(decoded.data)).toBe(true);
      expect((decoded.data as Buffer).equals(payload)).toBe(true);
    });

    it('a small payload does not share memory with the read buffer', () => {
      const payload = Buffer.from('short payload');
      const wire = encode(jsonEncoder, { id: 1, code: ControlCode.Reply, data: payload });
      const decoded = decodeOne(jsonDecoder, wire);
      wire.fill(0);
      expect((decoded.data as Buffer).equals(payload)).toBe(true);
    });

    it('a Uint8Array arrives as a Buffer', () => {
      const payload = new Uint8Array([9, 8, 7, 0, 255]);
      const decoded = decodeOne(jsonDecoder, encode(jsonEncoder, { id: 1, code: ControlCode.Normal, data: payload }));
      expect(Buffer.isBuffer(decoded.data)).toBe(true);
      expect([...(decoded.data as Buffer)]).toEqual([...payload]);
    });
  });

  it('multi-byte UTF-8 in pattern, meta and data survives being fed one byte at a time', () => {
    const frames: RpcFrame[] = [
      { id: 1, code: ControlCode.Normal, pattern: '订单.创建', meta: { ключ: 'значение 😀' }, data: { text: 'naïve café 🚀 日本語', n: 1 } },
      { id: 2, code: ControlCode.Reply, data: '€'.repeat(1000) },
      { id: 0, code: ControlCode.Event, pattern: 'é', data: ['👍🏽', '\u0000', '\u2028'] },
    ];
    const wire = encode(jsonEncoder, ...frames);

    expect(decodeAll(jsonDecoder, bytewise(wire))).toEqual(frames);
    expect(decodeAll(jsonDecoder, [wire])).toEqual(frames);
  });

  describe('bytes that can never be a frame are a ProtocolError', () => {
    const invalid: [string, Buffer][] = [
      ['frame shorter than the envelope', Buffer.concat([u32(5), Buffer.alloc(5)])],
      ['control code one past the last', envelope(10, 0)],
      ['control code 255', envelope(255, 0)],
      ['unknown flag 0x20', envelope(ControlCode.Normal, 0x20)],
      ['unknown flag 0x80', envelope(ControlCode.Normal, 0x80)],
      ['both JSON and bytes data', envelope(ControlCode.Reply, 0x18, Buffer.from('1'))],
    ];

    it.each(invalid)('%s', (_name, bytes) => {
      const thrown = thrownBy(() => feed(jsonDecoder, [bytes]));
      expect(thrown).toBeInstanceOf(ProtocolError);
      expect(thrown).toMatchObject({ code: 'ERR_PROTOCOL' });
    });

    // A well-framed frame whose code and id are readable but whose content is bad fails only
    // its own call: the decoder returns it marked invalid instead of throwing.
    const badContent: [string, Buffer][] = [
      ['pattern length cut off', envelope(ControlCode.Normal, 0x01, Buffer.from([0]))],
      ['pattern longer than the frame', envelope(ControlCode.Normal, 0x01, Buffer.concat([u16(10), Buffer.from('abc')]))],
      ['timeout cut off', envelope(ControlCode.Normal, 0x02, Buffer.from([0, 0]))],
      ['meta longer than the frame', envelope(ControlCode.Normal, 0x04, Buffer.concat([u32(100), Buffer.from('{}')]))],
      ['meta that is not JSON', envelope(ControlCode.Normal, 0x04, Buffer.concat([u32(3), Buffer.from('{a:')]))],
      ['meta that is an array', envelope(ControlCode.Normal, 0x04, Buffer.concat([u32(3), Buffer.from('[1]')]))],
      ['meta with a value that is not a string', envelope(ControlCode.Normal, 0x04, Buffer.concat([u32(7), Buffer.from('{"a":1}')]))],
      ['data that is not JSON', envelope(ControlCode.Reply, 0x08, Buffer.from('{"a":'))],
      ['bytes after an envelope with no data', envelope(ControlCode.End, 0, Buffer.from('xx'))],
    ];

    it.each(badContent)('%s: an intact frame with bad content is returned marked invalid, with its id', (_name, bytes) => {
      const frame = decodeOne(jsonDecoder, bytes);
      expect(frame.id).toBe(1);
      expect(frame.invalid).toBeInstanceOf(ProtocolError);
      expect(frame.invalid).toMatchObject({ code: 'ERR_PROTOCOL' });
    });

    it('names the key whose meta value is not a string', () => {
      const frame = decodeOne(jsonDecoder, envelope(ControlCode.Normal, 0x04, Buffer.concat([u32(18), Buffer.from('{"ok":"y","x":[1]}')])));
      expect(frame.invalid?.message).toBe('meta value for key "x" must be a string, got an array');
    });

    it('reads the id of a frame from its first 10 bytes (peekId)', () => {
      const bytes = envelope(ControlCode.Normal, 0x08, Buffer.from('"a long payload"'), 0xfeedbeef);
      expect(jsonDecoder.peekId?.(bytes, 0, 10)).toBe(0xfeedbeef);
      expect(jsonDecoder.peekId?.(bytes, 0, 9)).toBeUndefined();
    });

    it('the decoder itself throws ProtocolError for a bad envelope (not only through the reader)', () => {
      const bytes = envelope(ControlCode.Normal, 0x40);
      expect(() => jsonDecoder.decode(bytes, 0, bytes.length)).toThrow(ProtocolError);
      const short = Buffer.concat([u32(2), Buffer.alloc(2)]);
      expect(() => jsonDecoder.frameSize(short, 0, short.length)).toThrow(ProtocolError);
    });
  });

  describe('encoding', () => {
    it('timeouts go out as whole non-negative u32 milliseconds', () => {
      const sent = (timeoutMs: number): number | undefined => decodeOne(jsonDecoder, encode(jsonEncoder, { id: 1, code: ControlCode.Normal, timeoutMs })).timeoutMs;
      expect(sent(1.2)).toBe(2);
      expect(sent(-5)).toBe(0);
      expect(sent(2 ** 40)).toBe(0xffff_ffff);
    });

    it('refuses a pattern longer than 65535 bytes', () => {
      expect(() => encode(jsonEncoder, { id: 1, code: ControlCode.Normal, pattern: 'é'.repeat(40_000) })).toThrow(EncodeError);
    });
  });

  it('property: any frame survives encode, random chunking and decode', () => {
    // JSON data arrives as JSON sees it (-0 becomes 0); bytes arrive as they were.
    const asJsonSees = (frame: RpcFrame): RpcFrame =>
      frame.data === undefined || Buffer.isBuffer(frame.data) ? frame : { ...frame, data: JSON.parse(JSON.stringify(frame.data)) as unknown };
    const text = fc.string({ unit: 'grapheme', maxLength: 24 });
    const frame: fc.Arbitrary<RpcFrame> = fc.record({
      id: fc.integer({ min: 0, max: MAX_CALL_ID }),
      code: fc.constantFrom(...Object.values(ControlCode)),
      pattern: fc.option(text, { nil: undefined }),
      timeoutMs: fc.option(fc.integer({ min: 0, max: 0xffff_ffff }), { nil: undefined }),
      meta: fc.option(fc.dictionary(text, text, { maxKeys: 4, noNullPrototype: true }), { nil: undefined }),
      data: fc.option(
        fc.oneof(
          fc.jsonValue({ maxDepth: 3, stringUnit: 'grapheme' }),
          fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
        ),
        { nil: undefined },
      ),
    });
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, cuts) => {
        const wire = encode(jsonEncoder, ...frames);
        expect(decodeAll(jsonDecoder, split(wire, cuts))).toEqual(frames.map(asJsonSees));
      }),
      { numRuns: 300 },
    );
  });
});

describe('json codec: UTF-8', () => {
  // 2-, 3- and 4-byte sequences (é, ✓, 😀) in every text field.
  const frame: RpcFrame = {
    id: 7,
    code: ControlCode.Normal,
    pattern: 'café ✓ 😀',
    meta: { clé: 'välue ✓', emoji: '😀😀' },
    data: { text: 'Zoë ✓ 😀', list: ['日本語', 'ß'] },
    timeoutMs: 250,
  };

  it('counts bytes, not UTF-16 units, in every length field', () => {
    const bytes = encode(jsonEncoder, frame);
    expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
    expect(bytes.readUInt16BE(10)).toBe(Buffer.byteLength('café ✓ 😀'));
    expect(Buffer.byteLength('café ✓ 😀')).toBeGreaterThan('café ✓ 😀'.length);
  });

  it('decodes frames whose multi-byte characters are split across chunks, fed one byte at a time', () => {
    const bytes = encode(jsonEncoder, frame, frame);
    expect(feed(jsonDecoder, bytewise(bytes)).map(defined)).toStrictEqual([frame, frame]);
  });

  it('decodes any text split at any points', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    fc.assert(
      fc.property(text, text, text, fc.array(fc.nat(), { maxLength: 12 }), (pattern, key, value, cuts) => {
        const sent: RpcFrame = { id: 1, code: ControlCode.Event, pattern, meta: { [key]: value }, data: [pattern, value] };
        expect(feed(jsonDecoder, split(encode(jsonEncoder, sent), cuts)).map(defined)).toStrictEqual([sent]);
      }),
      { numRuns: 300, interruptAfterTimeLimit: 2000 },
    );
  });
});

describe('json codec: binary payloads', () => {
  it('sends a Buffer as raw bytes after the envelope and delivers a Buffer', () => {
    const payload = Buffer.from([0x00, 0xff, 0x7b, 0x22, 0x0a]);
    const bytes = encode(jsonEncoder, { id: 3, code: ControlCode.Reply, data: payload });
    expect(bytes[5]).toBe(0x10); // flags: raw bytes
    expect(bytes.subarray(10)).toEqual(payload);
    const frame = decodeOne(jsonDecoder, bytes);
    expect(Buffer.isBuffer(frame.data)).toBe(true);
    expect(frame.data).toEqual(payload);
  });

  it('sends a plain Uint8Array the same way and delivers a Buffer', () => {
    const payload = new Uint8Array([1, 2, 3, 250]);
    const frame = decodeOne(jsonDecoder, encode(jsonEncoder, { id: 3, code: ControlCode.Reply, data: payload }));
    expect(Buffer.isBuffer(frame.data)).toBe(true);
    expect([...(frame.data as Buffer)]).toEqual([1, 2, 3, 250]);
  });

  it('queues a large payload by reference: no base64, no JSON, no copy', () => {
    const payload = Buffer.alloc(256 * 1024, 0xab);
    const out = new OutboundBuffer();
    jsonCodec.encoder.encode({ id: 1, code: ControlCode.Reply, data: payload }, out);
    const segments = out.take();
    expect(segments).toContain(payload);
    expect(segments.reduce((sum, segment) => sum + segment.byteLength, 0)).toBe(4 + 6 + payload.length);
    const frame = decodeOne(jsonDecoder, Buffer.concat(segments));
    expect(Buffer.isBuffer(frame.data)).toBe(true);
    expect((frame.data as Buffer).equals(payload)).toBe(true);
  });
});

describe('json codec: decoded patterns', () => {
  const request = (pattern: string): RpcFrame => ({ id: 1, code: ControlCode.Normal, pattern });
  const patternOf = (pattern: string): string | undefined => decodeOne(jsonDecoder, encode(jsonEncoder, request(pattern))).pattern;

  it('a repeated pattern decodes to the same string, and one that differs only inside to its own', () => {
    // Same length, same first and last bytes: the same cache slot, told apart by the bytes between.
    for (const pattern of ['users.get', 'users.set', 'users.get', 'uxxxxxxxt', 'users.get']) expect(patternOf(pattern)).toBe(pattern);
  });

  it('property: any sequence of patterns (short, long, multi-byte, invalid UTF-8 replaced) decodes as encoded', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom('a', 'ab', 'ba', 'aab', 'aba', 'é', 'ée'), fc.string({ maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 70 })), { maxLength: 30 }), (patterns) => {
        for (const pattern of patterns) expect(patternOf(pattern)).toBe(pattern);
      }),
    );
  });

  it('a pattern whose bytes are not UTF-8 decodes to the replacement characters every time', () => {
    const bytes = Buffer.from([0x61, 0xff, 0x62]);
    const frame = (): Buffer => envelope(ControlCode.Normal, 0x01, Buffer.concat([u16(bytes.length), bytes]));
    expect(decodeOne(jsonDecoder, frame()).pattern).toBe('a\ufffdb');
    expect(decodeOne(jsonDecoder, frame()).pattern).toBe('a\ufffdb');
  });
});
