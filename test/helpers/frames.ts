/** Driving an Encoder or a Decoder by hand, as a Connection would, and building frames byte by byte. */
import { OutboundBuffer, type Decoder, type Encoder } from '../../src/core/index.js';
import { FrameReader, INCOMPLETE } from '../../src/core/frame-reader.js';
import { thrownBy } from './errors.js';

export const MiB = 1024 * 1024;

/** The bytes `encoder` writes for `messages`, as one Buffer. */
export function encode<T>(encoder: Encoder<T>, ...messages: T[]): Buffer {
  const out = new OutboundBuffer();
  for (const message of messages) encoder.encode(message, out);
  return Buffer.concat(out.take());
}

/**
 * Everything a FrameReader fed `chunks` delivers (reading after each push). The read loop is
 * bounded: every read that returns a message consumed at least one byte.
 */
export function feed<T>(decoder: Decoder<T>, chunks: readonly Buffer[], maxFrameBytes = 16 * MiB): T[] {
  return read(decoder, chunks, maxFrameBytes).messages;
}

/** `feed` for bytes that are whole frames: expects no byte left over after the last message. */
export function decodeAll<T>(decoder: Decoder<T>, chunks: readonly Buffer[]): T[] {
  const { messages, reader } = read(decoder, chunks, 16 * MiB);
  expect(reader.buffered).toBe(0);
  return messages;
}

/** Decodes bytes that hold exactly one frame (expects one message and no byte left over). */
export function decodeOne<T>(decoder: Decoder<T>, bytes: Buffer): T {
  const messages = decodeAll(decoder, [bytes]);
  expect(messages).toHaveLength(1);
  return messages[0] as T;
}

/**
 * How `decoder` refuses `bytes`: what feeding them throws (the framing is broken: the
 * connection closes), or the `invalid` of a frame it returns marked so (the frame is intact,
 * its content is bad: only its call fails). Fails the test if the bytes are accepted.
 */
export function decodeError<T>(decoder: Decoder<T>, bytes: Buffer): unknown {
  return thrownBy(() => {
    const marked = (feed(decoder, [bytes]) as unknown[]).find(isInvalid);
    if (marked !== undefined) throw marked.invalid;
  });
}

function isInvalid(message: unknown): message is { invalid: unknown } {
  return typeof message === 'object' && message !== null && (message as { invalid?: unknown }).invalid !== undefined;
}

function read<T>(decoder: Decoder<T>, chunks: readonly Buffer[], maxFrameBytes: number): { messages: T[]; reader: FrameReader<T> } {
  const reader = new FrameReader(decoder, maxFrameBytes);
  const messages: T[] = [];
  let budget = chunks.reduce((sum, chunk) => sum + chunk.length, 0) + chunks.length + 1;
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let message = reader.read(); message !== INCOMPLETE; message = reader.read()) {
      if (--budget < 0) throw new Error('reader delivered more messages than bytes');
      messages.push(message);
    }
  }
  return { messages, reader };
}

/** `value` as a big-endian u16, for frames built by hand. */
export function u16(value: number): Buffer {
  return Buffer.from([value >>> 8, value & 0xff]);
}

/** `value` as a big-endian u32, for frames built by hand. */
export function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}
