import { jest } from '@jest/globals';
import fc from 'fast-check';
import { OutboundBuffer, rawCodec, writeLengthPrefixed } from '../../src/core/index.js';
import { u32 } from '../helpers/frames.js';
import { frame } from './support.js';

const { encoder: rawEncoder, decoder: rawDecoder } = rawCodec;

const KiB = 1024;

/** A buffer with a tiny scratch (64 bytes) and reference threshold (16 bytes), so every path is hit by small inputs. */
const tiny = (): OutboundBuffer => new OutboundBuffer(64, 16);

const concat = (segments: readonly Uint8Array[]): Buffer => Buffer.concat(segments);

/** Distinct ArrayBuffers behind `segments`: more than one scratch means the scratch was reallocated. */
const backing = (segments: readonly Uint8Array[]): Set<ArrayBufferLike> => new Set(segments.map((segment) => segment.buffer));

const texts = [
  '',
  'plain ascii',
  'é',
  '€uro',
  '😀',
  'mixed é € 😀 text',
  'lone high \uD83D at the end \uD83D',
  '\uDC00 lone low first',
  'reversed pair \uDE00\uD83D',
  '\uD800\uD800\uDC00',
];

afterEach(() => {
  jest.restoreAllMocks();
});

describe('OutboundBuffer', () => {
  it('writes u8 and u32 big-endian values in order', () => {
    const out = new OutboundBuffer();
    out.writeUInt8(0x01);
    out.writeUInt32BE(0xdeadbeef);
    out.writeUInt8(0xff);
    out.writeUInt32BE(0);
    out.writeUInt32BE(0xffffffff);

    expect(out.length).toBe(14);
    expect(concat(out.take()).toString('hex')).toBe('01deadbeefff00000000ffffffff');
    expect(out.length).toBe(0);
  });

  describe('writeUtf8', () => {
    it.each(texts)('encodes %j exactly like Buffer.from, wherever it lands in the scratch', (text) => {
      const expected = Buffer.from(text, 'utf8');
      // Every fill level of the 64-byte scratch: the fast path, the exact-size path near the
      // end, and (for long strings) the referenced path.
      for (let fill = 0; fill <= 64; fill++) {
        const out = tiny();
        for (let filled = 0; filled < fill; filled++) out.writeUInt8(0x2e);
        const size = out.writeUtf8(text);
        expect(size).toBe(expected.length);
        expect(out.length).toBe(fill + expected.length);
        expect(concat(out.take()).subarray(fill).toString('hex')).toBe(expected.toString('hex'));
      }
    });

    it('matches Buffer.from for arbitrary UTF-16, lone surrogates included', () => {
      const codeUnit = fc.nat(0xffff).map((unit) => String.fromCharCode(unit));
      const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: codeUnit, maxLength: 40 }));
      fc.assert(
        fc.property(fc.array(text, { maxLength: 8 }), (parts) => {
          const out = tiny();
          const sizes = parts.map((part) => out.writeUtf8(part));
          expect(sizes).toEqual(parts.map((part) => Buffer.byteLength(part, 'utf8')));
          // Each part on its own: a lone surrogate ending one part does not pair with the next.
          const expected = Buffer.concat(parts.map((part) => Buffer.from(part, 'utf8')));
          expect(concat(out.take()).equals(expected)).toBe(true);
        }),
        { numRuns: 300, examples: [[['\uD800', '\uDC00']], [['😀'.repeat(30), '\uDBFF']]] },
      );
    });

    it('queues a long string as its own segment and counts its bytes', () => {
      const out = new OutboundBuffer();
      const text = '€'.repeat(8 * KiB);
      out.writeUInt8(7);
      expect(out.writeUtf8(text)).toBe(24 * KiB);
      expect(out.length).toBe(1 + 24 * KiB);
      expect(concat(out.take()).equals(Buffer.concat([Buffer.from([7]), Buffer.from(text)]))).toBe(true);
    });
  });

  describe('writeBytes', () => {
    it('copies payloads under the reference threshold', () => {
      const out = new OutboundBuffer();
      const payload = Buffer.alloc(16 * KiB - 1, 0x11);
      out.writeBytes(payload);
      payload.fill(0x99);

      const segments = out.take();
      expect(segments.some((segment) => segment.buffer === payload.buffer)).toBe(false);
      expect(concat(segments).equals(Buffer.alloc(16 * KiB - 1, 0x11))).toBe(true);
    });

    it('queues payloads of at least 16 KiB by reference, in order with the copied bytes around them', () => {
      const out = new OutboundBuffer();
      const payload = Buffer.alloc(16 * KiB, 0x22);
      out.writeUInt8(1);
      out.writeBytes(payload);
      out.writeUInt8(2);

      const segments = out.take();
      expect(segments).toHaveLength(3);
      expect(segments[1]).toBe(payload);
      expect(concat(segments).equals(Buffer.concat([Buffer.from([1]), payload, Buffer.from([2])]))).toBe(true);
    });

    it('references a view without copying the bytes around it', () => {
      const out = new OutboundBuffer();
      const backingStore = Buffer.alloc(64 * KiB, 0x33);
      const view = backingStore.subarray(KiB, 33 * KiB);
      out.writeBytes(view);
      const [segment] = out.take();
      expect(segment!.buffer).toBe(backingStore.buffer);
      expect(segment!.byteOffset).toBe(view.byteOffset);
      expect(segment!.byteLength).toBe(32 * KiB);
    });
  });

  describe('frames', () => {
    it('fills the header with the body length when the body spans a referenced segment and a scratch reallocation', () => {
      const out = tiny();
      const prefix = Buffer.alloc(50, 0x70);
      const small = Buffer.alloc(8, 0x61);
      const large = Buffer.alloc(20, 0x62);
      const spill = Buffer.alloc(10, 0x63);

      out.writeBytes(prefix);
      out.beginFrame(4);
      out.writeBytes(small); // scratch: 62 of 64 bytes used
      out.writeBytes(large); // referenced
      out.writeBytes(spill); // does not fit: a new scratch; the header stays in the old one
      out.writeUtf8('é');
      const bodyLength = out.endFrame((buffer, offset, length) => buffer.writeUInt32BE(length, offset));

      const body = Buffer.concat([small, large, spill, Buffer.from('é')]);
      expect(bodyLength).toBe(body.length);
      const segments = out.take();
      expect(segments).toContain(large);
      expect(backing(segments.filter((segment) => segment !== large)).size).toBe(2);
      expect(concat(segments).toString('hex')).toBe(Buffer.concat([prefix, u32(body.length), body]).toString('hex'));
    });

    it('writes length-prefixed frames that the raw decoder reads back, large bodies included', () => {
      const out = new OutboundBuffer();
      const bodies = [Buffer.alloc(0), Buffer.from('small'), Buffer.alloc(100 * KiB, 5), Buffer.alloc(70 * KiB, 6), Buffer.from('tail')];
      for (const body of bodies) rawEncoder.encode(body, out);

      const wire = concat(out.take());
      const decoded: string[] = [];
      for (let start = 0; start < wire.length; ) {
        const size = rawDecoder.frameSize(wire, start, wire.length);
        decoded.push(rawDecoder.decode(wire, start, start + size).toString('hex'));
        start += size;
      }
      expect(decoded).toEqual(bodies.map((body) => body.toString('hex')));
    });

    it('refuses endFrame without beginFrame', () => {
      expect(() => new OutboundBuffer().endFrame(() => {})).toThrow('endFrame without beginFrame');
    });
  });

  describe('mark and rewind', () => {
    it('undoes a partially written frame across a referenced segment and a scratch reallocation', () => {
      const out = tiny();
      writeLengthPrefixed(out, Buffer.from('frame A'), (body, into) => into.writeBytes(body));
      const before = out.length;

      const scratchAllocations = jest.spyOn(Buffer, 'allocUnsafeSlow');
      out.mark();
      out.beginFrame(4);
      out.writeBytes(Buffer.alloc(15, 0xee)); // copied: 30 of 64 scratch bytes used
      out.writeBytes(Buffer.alloc(20, 0xef)); // referenced
      out.writeBytes(Buffer.alloc(15, 0xee));
      out.writeBytes(Buffer.alloc(15, 0xee));
      out.writeBytes(Buffer.alloc(15, 0xed)); // does not fit: a new scratch
      out.writeUtf8('😀'.repeat(10)); // referenced string
      expect(scratchAllocations).toHaveBeenCalledTimes(1);
      expect(out.sinceMark()).toBe(4 + 15 + 20 + 3 * 15 + 40);
      out.rewind();

      expect(out.sinceMark()).toBe(0);
      expect(out.length).toBe(before);
      expect(() => out.endFrame(() => {})).toThrow('endFrame without beginFrame');
      writeLengthPrefixed(out, Buffer.from('frame B'), (body, into) => into.writeBytes(body));
      expect(concat(out.take()).equals(Buffer.concat([frame('frame A'), frame('frame B')]))).toBe(true);
    });

    it('rewinding leaves bytes taken earlier untouched', () => {
      const out = tiny();
      out.writeBytes(Buffer.alloc(30, 0x01));
      const taken = out.take();
      const snapshot = Buffer.from(concat(taken));

      out.mark();
      out.writeBytes(Buffer.alloc(30, 0x02));
      out.rewind();
      out.writeBytes(Buffer.alloc(30, 0x03));

      expect(concat(taken).equals(snapshot)).toBe(true);
      expect(concat(out.take()).equals(Buffer.alloc(30, 0x03))).toBe(true);
    });
  });

  it('take() returns everything written, in order, and never rewrites bytes it returned', () => {
    type Op =
      | { kind: 'u8'; value: number }
      | { kind: 'u32'; value: number }
      | { kind: 'bytes'; value: Uint8Array }
      | { kind: 'utf8'; value: string }
      | { kind: 'frame'; value: Uint8Array }
      | { kind: 'take' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('u8' as const), value: fc.nat(0xff) }),
      fc.record({ kind: fc.constant('u32' as const), value: fc.nat(0xffffffff) }),
      fc.record({ kind: fc.constant('bytes' as const), value: fc.uint8Array({ maxLength: 200 }) }),
      fc.record({ kind: fc.constant('utf8' as const), value: fc.string({ unit: 'grapheme', maxLength: 60 }) }),
      fc.record({ kind: fc.constant('frame' as const), value: fc.uint8Array({ maxLength: 200 }) }),
      fc.constant({ kind: 'take' as const }),
    );
    const sizes = fc.constantFrom<[number, number]>([64, 16], [256, 64], [64 * KiB, 16 * KiB]);

    fc.assert(
      fc.property(sizes, fc.array(op, { maxLength: 60 }), ([chunkBytes, referenceThreshold], ops) => {
        const out = new OutboundBuffer(chunkBytes, referenceThreshold);
        const expected: Buffer[] = [];
        const taken: Uint8Array[] = [];
        let pending = 0;
        for (const step of ops) {
          let written: Buffer;
          switch (step.kind) {
            case 'take':
              taken.push(...out.take());
              pending = 0;
              continue;
            case 'u8':
              out.writeUInt8(step.value);
              written = Buffer.from([step.value]);
              break;
            case 'u32':
              out.writeUInt32BE(step.value);
              written = u32(step.value);
              break;
            case 'bytes':
              out.writeBytes(step.value);
              written = Buffer.from(step.value);
              break;
            case 'utf8':
              out.writeUtf8(step.value);
              written = Buffer.from(step.value, 'utf8');
              break;
            case 'frame':
              writeLengthPrefixed(out, step.value, (body, into) => into.writeBytes(body));
              written = frame(step.value);
              break;
          }
          expected.push(written);
          pending += written.length;
          expect(out.length).toBe(pending);
        }
        taken.push(...out.take());
        // Compared only now, after all later writes: earlier segments must still hold their bytes.
        expect(concat(taken).toString('hex')).toBe(Buffer.concat(expected).toString('hex'));
      }),
      { numRuns: 300 },
    );
  });

  describe('scratch lifetime', () => {
    it('allocates no scratch until the first write', () => {
      const allocUnsafeSlow = jest.spyOn(Buffer, 'allocUnsafeSlow');
      const out = new OutboundBuffer();
      expect(out.scratchBytes).toBe(0);
      expect(out.take()).toEqual([]);
      expect(allocUnsafeSlow).not.toHaveBeenCalled();
      out.writeUInt8(1);
      expect(out.scratchBytes).toBe(64 * KiB);
      expect(allocUnsafeSlow).toHaveBeenCalledTimes(1);
    });

    it('release drops the scratch once everything is taken; taken bytes stay intact and later writes work', () => {
      const out = tiny();
      out.writeBytes(Buffer.from('hello'));
      out.release();
      // Refused while bytes are queued.
      expect(out.scratchBytes).toBe(64);
      const taken = concat(out.take());
      out.release();
      expect(out.scratchBytes).toBe(0);
      rawEncoder.encode(Buffer.from('again'), out);
      expect(taken.toString()).toBe('hello');
      expect(concat(out.take())).toEqual(frame('again'));
    });

    it('keeps the scratch while a frame is under construction', () => {
      const out = tiny();
      out.beginFrame(4);
      out.release();
      expect(out.scratchBytes).toBe(64);
    });
  });
});
