import { jest } from '@jest/globals';
import fc from 'fast-check';
import {
  FrameTooLargeError,
  NEED_MORE,
  OversizedFrame,
  PEEK_PREFIX_BYTES,
  ProtocolError,
  ProtosocketError,
  rawCodec,
  type Decoder,
} from '../../src/core/index.js';
import { FrameReader, INCOMPLETE } from '../../src/core/frame-reader.js';
import { thrownBy } from '../helpers/errors.js';
import { frame } from './support.js';
import { bytewise, split } from '../helpers/chunks.js';

const MiB = 1024 * 1024;
const rawDecoder = rawCodec.decoder;

/**
 * Newline-delimited UTF-8 text: the frame size is unknown until the '\n' arrives, so this
 * exercises the reader's NEED_MORE path (the raw decoder always knows the size after 4 bytes).
 */
const lineDecoder: Decoder<string> = {
  frameSize(buffer, start, end) {
    const newline = buffer.indexOf(0x0a, start);
    return newline === -1 || newline >= end ? NEED_MORE : newline - start + 1;
  },
  decode(buffer, start, end) {
    return buffer.toString('utf8', start, end - 1);
  },
};

/** Everything `reader` can deliver now. */
function drain<T>(reader: FrameReader<T>): T[] {
  const messages: T[] = [];
  for (let message = reader.read(); message !== INCOMPLETE; message = reader.read()) messages.push(message);
  return messages;
}

/**
 * Feeds `chunks` and returns the messages. `readAfter[i]` false pushes the next chunk before
 * reading, as happens when reading is paused; by default it reads after every push.
 */
function feed<T>(reader: FrameReader<T>, chunks: readonly Buffer[], readAfter: readonly boolean[] = []): T[] {
  const messages: T[] = [];
  chunks.forEach((chunk, index) => {
    reader.push(chunk);
    if (readAfter[index] ?? true) messages.push(...drain(reader));
  });
  messages.push(...drain(reader));
  return messages;
}

const hex = (messages: readonly Buffer[]): string[] => messages.map((message) => message.toString('hex'));

const bodies = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 });
const lines = fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }).map((text) => text.replaceAll('\n', ' ')), { maxLength: 20 });
const cuts = fc.array(fc.nat(), { maxLength: 30 });

afterEach(() => {
  jest.restoreAllMocks();
});

describe('FrameReader', () => {
  describe('chunk boundaries do not change the result', () => {
    it('raw frames fed one byte at a time give the same messages as one chunk', () => {
      const payloads = [Buffer.alloc(0), Buffer.from('a'), Buffer.from('hello'), Buffer.alloc(1000, 7), Buffer.from('€😀')];
      const wire = Buffer.concat(payloads.map((payload) => frame(payload)));

      const whole = feed(new FrameReader(rawDecoder, MiB), [wire]);
      const reader = new FrameReader(rawDecoder, MiB);
      const byByte = feed(reader, bytewise(wire));

      expect(hex(whole)).toEqual(hex(payloads));
      expect(hex(byByte)).toEqual(hex(payloads));
      expect(reader.buffered).toBe(0);
    });

    it('lines of unknown size fed one byte at a time give the same messages as one chunk', () => {
      const texts = ['', 'one', 'zwei drei', 'é€😀', 'x'.repeat(500)];
      const wire = Buffer.from(texts.map((text) => `${text}\n`).join(''));

      expect(feed(new FrameReader(lineDecoder, MiB), [wire])).toEqual(texts);
      expect(feed(new FrameReader(lineDecoder, MiB), bytewise(wire))).toEqual(texts);
    });

    it('raw frames in random chunk splits, read after some pushes only', () => {
      fc.assert(
        fc.property(bodies, cuts, fc.array(fc.boolean(), { maxLength: 30 }), (payloads, cutAt, readAfter) => {
          const wire = Buffer.concat(payloads.map((payload) => frame(payload)));
          const reader = new FrameReader(rawDecoder, MiB);
          // Messages are views into the reader's buffers: comparing them only after every
          // push also checks that later pushes never overwrite a delivered message.
          const messages = feed(reader, split(wire, cutAt), readAfter);
          expect(hex(messages)).toEqual(payloads.map((payload) => Buffer.from(payload).toString('hex')));
          expect(reader.buffered).toBe(0);
        }),
        { numRuns: 300 },
      );
    });

    it('lines in random chunk splits, read after some pushes only', () => {
      fc.assert(
        fc.property(lines, cuts, fc.array(fc.boolean(), { maxLength: 30 }), (texts, cutAt, readAfter) => {
          const wire = Buffer.from(texts.map((text) => `${text}\n`).join(''));
          const messages = feed(new FrameReader(lineDecoder, MiB), split(wire, cutAt), readAfter);
          expect(messages).toEqual(texts);
        }),
        { numRuns: 300 },
      );
    });
  });

  it('parses 10,000 pipelined frames from one chunk in place', () => {
    const count = 10_000;
    const payloads = Array.from({ length: count }, (_, index) => Buffer.from(`message ${index}`));
    const wire = Buffer.concat(payloads.map((payload) => frame(payload)));
    const reader = new FrameReader(rawDecoder, MiB);

    reader.push(wire);
    const messages = drain(reader);

    expect(messages.length).toBe(count);
    expect(messages.findIndex((message, index) => !message.equals(payloads[index]!))).toBe(-1);
    // Whole frames inside one chunk are not copied: every message is a view of that chunk.
    expect(messages.every((message) => message.buffer === wire.buffer)).toBe(true);
    expect(reader.buffered).toBe(0);
  });

  it('assembles one 64 MiB frame arriving in 64 KiB chunks with a single allocation', () => {
    const bodyBytes = 64 * MiB;
    const chunkBytes = 64 * 1024;
    const wire = Buffer.allocUnsafe(4 + bodyBytes);
    wire.writeUInt32BE(bodyBytes);
    const pattern = Buffer.from(Array.from({ length: 251 }, (_, index) => index));
    wire.fill(pattern, 4);
    const reader = new FrameReader(rawDecoder, 128 * MiB);
    const allocUnsafe = jest.spyOn(Buffer, 'allocUnsafe');
    const alloc = jest.spyOn(Buffer, 'alloc');
    const allocUnsafeSlow = jest.spyOn(Buffer, 'allocUnsafeSlow');
    const messages: Buffer[] = [];
    for (let offset = 0; offset < wire.length; offset += chunkBytes) {
      reader.push(wire.subarray(offset, offset + chunkBytes));
      messages.push(...drain(reader));
      if (offset + chunkBytes < wire.length) expect(messages).toEqual([]);
    }

    expect(messages.length).toBe(1);
    const body = messages[0]!;
    expect(body.length).toBe(bodyBytes);
    expect(body.equals(wire.subarray(4))).toBe(true);
    // Sized from the header once, then filled: no growth by doubling, no second copy.
    expect(allocUnsafe.mock.calls.length).toBeLessThanOrEqual(2);
    const allocated = allocUnsafe.mock.calls.reduce((sum, [size]) => sum + size, 0);
    expect(allocated).toBeLessThanOrEqual(4 + bodyBytes + chunkBytes);
    expect(alloc).not.toHaveBeenCalled();
    expect(allocUnsafeSlow).not.toHaveBeenCalled();
  });

  describe('limits', () => {
    it('rejects a length header over maxFrameBytes from the header alone', () => {
      const reader = new FrameReader(rawDecoder, 16 * MiB);
      const allocUnsafe = jest.spyOn(Buffer, 'allocUnsafe');
      const alloc = jest.spyOn(Buffer, 'alloc');
      reader.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
      const error = thrownBy(() => reader.read());

      expect(error).toBeInstanceOf(FrameTooLargeError);
      expect(error).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', size: 4 + 0xffffffff, limit: 16 * MiB });
      expect(allocUnsafe).not.toHaveBeenCalled();
      expect(alloc).not.toHaveBeenCalled();
    });

    it('rejects a header split across chunks before buffering any body', () => {
      const reader = new FrameReader(rawDecoder, 1024);
      reader.push(Buffer.from([0x00, 0x00]));
      expect(reader.read()).toBe(INCOMPLETE);
      reader.push(Buffer.from([0x04, 0x00]));
      expect(thrownBy(() => reader.read())).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', size: 4 + 1024 });
    });

    it('accepts a frame of exactly maxFrameBytes', () => {
      const reader = new FrameReader(rawDecoder, 104);
      expect(hex(feed(reader, [frame(Buffer.alloc(100, 1))]))).toEqual([Buffer.alloc(100, 1).toString('hex')]);
    });

    it('rejects a frame of unknown size once more than maxFrameBytes are buffered without an end', () => {
      const reader = new FrameReader(lineDecoder, 16);
      const wire = Buffer.from('0123456789abcdefg');
      for (const chunk of bytewise(wire).slice(0, 16)) {
        reader.push(chunk);
        expect(reader.read()).toBe(INCOMPLETE);
      }
      reader.push(wire.subarray(16));
      expect(thrownBy(() => reader.read())).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', size: 17, limit: 16 });
    });
  });

  describe('decoder failures', () => {
    const boom = new Error('boom');

    it('wraps a plain Error thrown by decode in ProtocolError with the cause', () => {
      const reader = new FrameReader<Buffer>({ frameSize: rawDecoder.frameSize, decode: () => { throw boom; } }, MiB);
      reader.push(frame('x'));
      const error = thrownBy(() => reader.read());

      expect(error).toBeInstanceOf(ProtocolError);
      expect(error).toMatchObject({ code: 'ERR_PROTOCOL', cause: boom });
    });

    it('wraps a plain Error thrown by frameSize in ProtocolError with the cause', () => {
      const reader = new FrameReader<Buffer>({ frameSize: () => { throw boom; }, decode: rawDecoder.decode }, MiB);
      reader.push(Buffer.from('garbage'));
      expect(thrownBy(() => reader.read())).toMatchObject({ code: 'ERR_PROTOCOL', cause: boom });
    });

    it('passes a ProtosocketError thrown by the decoder through unchanged', () => {
      const own = new ProtosocketError('ERR_CUSTOM', 'custom');
      const reader = new FrameReader<Buffer>({ frameSize: rawDecoder.frameSize, decode: () => { throw own; } }, MiB);
      reader.push(frame('x'));
      expect(thrownBy(() => reader.read())).toBe(own);
    });

    it.each([0, -2, 1.5, Number.NaN])('rejects a frame size of %p as a protocol error', (size) => {
      const reader = new FrameReader<Buffer>({ frameSize: () => size, decode: rawDecoder.decode }, MiB);
      reader.push(Buffer.from('abc'));
      expect(thrownBy(() => reader.read())).toMatchObject({ code: 'ERR_PROTOCOL' });
    });
  });

  it('never overwrites a message from a reassembled frame with later pushes', () => {
    const a = Buffer.alloc(100, 0xaa);
    const b = Buffer.alloc(100, 0xbb);
    const c = Buffer.alloc(100, 0xcc);
    const wire = Buffer.concat([frame(a), frame(b), frame(c)]);
    const reader = new FrameReader(rawDecoder, MiB);

    // A is split over two chunks (so it is assembled), the second of which also starts B.
    reader.push(wire.subarray(0, 50));
    expect(reader.read()).toBe(INCOMPLETE);
    reader.push(wire.subarray(50, 150));
    const first = drain(reader);
    expect(hex(first)).toEqual([a.toString('hex')]);

    // B and C arrive in pieces, pushed before and after reads.
    reader.push(wire.subarray(150, 160));
    reader.push(wire.subarray(160, 230));
    const rest = drain(reader);
    reader.push(wire.subarray(230));
    rest.push(...drain(reader));

    expect(hex(rest)).toEqual([b.toString('hex'), c.toString('hex')]);
    expect(first[0]!.equals(a)).toBe(true);
  });

  describe('a split frame costs what has arrived of it', () => {
    /** Total bytes `Buffer.allocUnsafe` was asked for while `run` ran. */
    function allocatedDuring(run: () => void): number {
      const allocUnsafe = jest.spyOn(Buffer, 'allocUnsafe');
      try {
        run();
        return allocUnsafe.mock.calls.reduce((sum, [size]) => sum + size, 0);
      } finally {
        allocUnsafe.mockRestore();
      }
    }

    it('holds only the received bytes of a 16 MiB frame of which one byte and then 64 KiB arrived', () => {
      const reader = new FrameReader(rawDecoder, 32 * MiB);
      const header = Buffer.alloc(5);
      header.writeUInt32BE(16 * MiB);
      const allocated = allocatedDuring(() => {
        reader.push(header);
        expect(reader.read()).toBe(INCOMPLETE);
        reader.push(Buffer.alloc(64 * 1024, 1));
        expect(reader.read()).toBe(INCOMPLETE);
      });
      expect(reader.buffered).toBe(5 + 64 * 1024);
      // Not the announced 16 MiB: a small chunk may be copied into a small block, no more.
      expect(allocated).toBeLessThanOrEqual(64 * 1024);
    });

    it('a frame trickled one byte at a time is gathered in 4 KiB blocks, never allocated ahead by more', () => {
      const body = Buffer.alloc(100_000, 3);
      const wire = frame(body);
      const reader = new FrameReader(rawDecoder, MiB);
      const messages: Buffer[] = [];
      let largest = 0;
      const allocUnsafe = jest.spyOn(Buffer, 'allocUnsafe');
      for (const chunk of bytewise(wire)) {
        const held = reader.buffered;
        const before = allocUnsafe.mock.calls.length;
        reader.push(chunk);
        for (const call of allocUnsafe.mock.calls.slice(before)) {
          if (call[0] < wire.length) largest = Math.max(largest, call[0] / Math.max(held, 4096));
        }
        messages.push(...drain(reader));
      }
      expect(largest).toBeLessThanOrEqual(1);
      expect(hex(messages)).toEqual([body.toString('hex')]);
      // Blocks (one per 4 KiB), the split header's bytes and the frame itself, not one Buffer per byte.
      expect(allocUnsafe.mock.calls.length).toBeLessThanOrEqual(Math.ceil(wire.length / 4096) + 3);
    });
  });

  describe('skipping frames over maxFrameBytes (readOrSkip)', () => {
    /** Raw frames whose body starts with a u32 id, which `peekId` reads. */
    const idDecoder: Decoder<Buffer> = {
      ...rawDecoder,
      peekId: (buffer, start, end) => (end - start >= 8 ? buffer.readUInt32BE(start + 4) : undefined),
    };
    const readAll = (reader: FrameReader<Buffer>): (Buffer | OversizedFrame)[] => {
      const out: (Buffer | OversizedFrame)[] = [];
      for (let next = reader.readOrSkip(); next !== INCOMPLETE; next = reader.readOrSkip()) out.push(next);
      return out;
    };
    const describeAll = (items: readonly (Buffer | OversizedFrame)[]): string[] =>
      items.map((item) => (item instanceof OversizedFrame ? `skipped ${item.id} (${item.size})` : item.toString('hex')));

    it('reports an oversized frame once with its id, never buffers its body, and reads the next frame', () => {
      const big = numberedBody(7, 5000);
      const small = numberedBody(8, 10);
      const wire = Buffer.concat([frame(big), frame(small)]);
      const reader = new FrameReader(idDecoder, 1000);
      const items: (Buffer | OversizedFrame)[] = [];
      let held = 0;
      for (const chunk of bytewise(wire)) {
        reader.push(chunk);
        items.push(...readAll(reader));
        held = Math.max(held, reader.buffered);
      }
      expect(describeAll(items)).toEqual([`skipped 7 (${4 + 5000})`, small.toString('hex')]);
      expect(items[0]).toMatchObject({ limit: 1000 });
      // The first bytes, for the id: the body is dropped as it arrives.
      expect(held).toBeLessThanOrEqual(PEEK_PREFIX_BYTES);
      expect(reader.buffered).toBe(0);
    });

    it('any chunk split gives the same items as one chunk', () => {
      fc.assert(
        fc.property(fc.array(fc.nat({ max: 400 }), { maxLength: 12 }), cuts, fc.array(fc.boolean(), { maxLength: 30 }), (sizes, cutAt, readAfter) => {
          const bodies = sizes.map((size, index) => numberedBody(index, size + 4));
          const wire = Buffer.concat(bodies.map((body) => frame(body)));
          const expected = describeAll(readAll(pushed(new FrameReader(idDecoder, 200), [wire])));
          const reader = new FrameReader(idDecoder, 200);
          const items: (Buffer | OversizedFrame)[] = [];
          split(wire, cutAt).forEach((chunk, index) => {
            reader.push(chunk);
            if (readAfter[index] ?? true) items.push(...readAll(reader));
          });
          items.push(...readAll(reader));
          expect(describeAll(items)).toEqual(expected);
          expect(expected.filter((item) => item.startsWith('skipped')).length).toBe(bodies.filter((body) => body.length + 4 > 200).length);
          expect(reader.buffered).toBe(0);
        }),
        { numRuns: 300 },
      );
    });

    it('throws FrameTooLargeError when the id cannot be read, and read() always throws', () => {
      const reader = new FrameReader<Buffer>({ ...rawDecoder, peekId: () => undefined }, 100);
      reader.push(frame(Buffer.alloc(200)));
      expect(thrownBy(() => reader.readOrSkip())).toBeInstanceOf(FrameTooLargeError);
      const strict = new FrameReader(idDecoder, 100);
      strict.push(frame(Buffer.alloc(200)));
      expect(thrownBy(() => strict.read())).toBeInstanceOf(FrameTooLargeError);
      const noPeek = new FrameReader(rawDecoder, 100);
      noPeek.push(frame(Buffer.alloc(200)));
      expect(thrownBy(() => noPeek.readOrSkip())).toBeInstanceOf(FrameTooLargeError);
    });
  });
});

/** A body of `size` bytes (at least 4) starting with `id` as a u32. */
function numberedBody(id: number, size: number): Buffer {
  const body = Buffer.alloc(size, id & 0xff);
  body.writeUInt32BE(id);
  return body;
}

function pushed<T>(reader: FrameReader<T>, chunks: readonly Buffer[]): FrameReader<T> {
  for (const chunk of chunks) reader.push(chunk);
  return reader;
}
