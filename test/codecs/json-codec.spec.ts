import fc from 'fast-check';
import { OutboundBuffer } from '../../src/core/index.js';
import { ControlCode, jsonCodec, jsonDecoder, jsonEncoder, type RpcFrame } from '../../src/rpc/index.js';
import { bytewise, decodeOne, defined, encode, feed, split } from './support.js';

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
