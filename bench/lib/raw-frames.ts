/**
 * The framing of the raw `net` reference driver: about the least a message protocol over TCP
 * can do, written the way Node code does it by hand.
 *
 *   +----------------+----------+------------+-------------------------------+
 *   | length: u32 BE | kind: u8 | id: u32 BE | body: JSON text or raw bytes  |
 *   +----------------+----------+------------+-------------------------------+
 *   length counts the bytes after itself (kind + id + body).
 *
 * Writes are gathered per tick: the first frame of a tick schedules one flush on
 * process.nextTick, which writes the tick's frames at once (one concatenated buffer for small
 * frames; one corked writev when a large frame is among them, so large payloads are not
 * copied).
 */
import type { Socket } from 'node:net';

export const Kind = {
  JsonRequest: 1,
  BytesRequest: 2,
  StreamRequest: 3,
  Event: 4,
  JsonReply: 5,
  BytesReply: 6,
  StreamItem: 7,
  StreamEnd: 8,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

const LENGTH_BYTES = 4;
export const HEADER_BYTES = LENGTH_BYTES + 1 + 4;
/** Frames from this size are written by reference (writev) rather than concatenated. */
const LARGE_FRAME = 16 * 1024;

export type FrameHandler = (kind: Kind, id: number, body: Buffer) => void;

/** Splits a byte stream into frames. Bytes are only copied when a frame spans chunks, once. */
export class FrameSplitter {
  private parts: Buffer[] = [];
  private partsLength = 0;
  /** Bytes needed before the buffered parts can yield a frame (or at least a header). */
  private needed = 0;

  constructor(private readonly onFrame: FrameHandler) {}

  push(chunk: Buffer): void {
    let buffer = chunk;
    if (this.partsLength > 0) {
      this.parts.push(chunk);
      this.partsLength += chunk.length;
      if (this.partsLength < this.needed) return;
      buffer = Buffer.concat(this.parts, this.partsLength);
      this.parts = [];
      this.partsLength = 0;
    }
    let at = 0;
    while (buffer.length - at >= LENGTH_BYTES) {
      const end = at + LENGTH_BYTES + buffer.readUInt32BE(at);
      if (end > buffer.length) break;
      this.onFrame(buffer[at + LENGTH_BYTES] as Kind, buffer.readUInt32BE(at + LENGTH_BYTES + 1), buffer.subarray(at + HEADER_BYTES, end));
      at = end;
    }
    if (at < buffer.length) {
      const rest = buffer.subarray(at);
      this.parts = [rest];
      this.partsLength = rest.length;
      this.needed = rest.length >= LENGTH_BYTES ? LENGTH_BYTES + rest.readUInt32BE(0) : LENGTH_BYTES;
    }
  }
}

/** Gathers a tick's frames and writes them once, on process.nextTick. */
export class TickWriter {
  private frames: Buffer[] = [];
  private large = false;
  private scheduled = false;

  constructor(private readonly socket: Socket) {}

  json(kind: Kind, id: number, value: unknown): void {
    const text = JSON.stringify(value) ?? 'null';
    const size = Buffer.byteLength(text);
    const frame = Buffer.allocUnsafe(HEADER_BYTES + size);
    writeHeader(frame, kind, id, size);
    frame.write(text, HEADER_BYTES, size, 'utf8');
    this.push(frame);
  }

  bytes(kind: Kind, id: number, body: Uint8Array): void {
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    writeHeader(header, kind, id, body.byteLength);
    this.push(header);
    this.push(body as Buffer);
  }

  empty(kind: Kind, id: number): void {
    const frame = Buffer.allocUnsafe(HEADER_BYTES);
    writeHeader(frame, kind, id, 0);
    this.push(frame);
  }

  /** Bytes the socket holds beyond what it has written. */
  get backlog(): number {
    return this.socket.writableLength;
  }

  private push(frame: Buffer): void {
    this.frames.push(frame);
    if (frame.length >= LARGE_FRAME) this.large = true;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(flushTick, this);
    }
  }

  flush(): void {
    this.scheduled = false;
    const frames = this.frames;
    this.frames = [];
    if (this.socket.destroyed || frames.length === 0) return;
    if (frames.length === 1) {
      this.socket.write(frames[0] as Buffer);
    } else if (!this.large) {
      this.socket.write(Buffer.concat(frames));
    } else {
      this.socket.cork();
      for (const frame of frames) this.socket.write(frame);
      this.socket.uncork();
    }
    this.large = false;
  }
}

function flushTick(writer: TickWriter): void {
  writer.flush();
}

function writeHeader(buffer: Buffer, kind: Kind, id: number, bodyBytes: number): void {
  buffer.writeUInt32BE(1 + 4 + bodyBytes, 0);
  buffer[LENGTH_BYTES] = kind;
  buffer.writeUInt32BE(id, LENGTH_BYTES + 1);
}
