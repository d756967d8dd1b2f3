import { NEED_MORE, type Decoder } from './codec.js';
import { FrameTooLargeError, messageOf, ProtocolError, ProtosocketError } from './errors.js';

/**
 * Returned by `FrameReader.read` when no complete frame is buffered. Internal to core (the
 * connection's read loop); decoders signal an unknown size with the public `NEED_MORE`.
 */
export const INCOMPLETE: unique symbol = Symbol('incomplete');

/**
 * Turns a stream of chunks into decoded messages. Pure: no I/O, no timers; the connection
 * pushes chunks and pulls messages, which lets it stop between two messages (read pausing).
 *
 * Unparsed bytes live in `head[start, end)`. A chunk is parsed in place while it holds whole
 * frames (zero copy); only a frame split across chunks is copied, into an assembly buffer of
 * exactly the size the decoder announced, so a 64 MiB frame is assembled once. A later chunk
 * waits in `tail` until `head` needs its bytes, so only the missing part of a frame is copied.
 *
 * Invariant: a buffer that a delivered message may reference is never written again; an
 * assembly buffer is dropped, not reused, once its frames are decoded.
 */
export class FrameReader<T> {
  private head: Buffer | null = null;
  private start = 0;
  private end = 0;
  private owned = false;
  private expected = NEED_MORE;
  private tail: Buffer | null = null;
  private tailOffset = 0;

  constructor(
    private readonly decoder: Decoder<T>,
    private readonly maxFrameBytes: number,
  ) {}

  /** Bytes received and not yet delivered as messages. */
  get buffered(): number {
    const inHead = this.head === null ? 0 : this.end - this.start;
    const inTail = this.tail === null ? 0 : this.tail.length - this.tailOffset;
    return inHead + inTail;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.tail !== null) this.absorbTail(true);
    if (this.head === null) {
      this.borrow(chunk, 0);
    } else {
      this.tail = chunk;
      this.tailOffset = 0;
    }
  }

  /**
   * The next complete message, or INCOMPLETE. Throws `ProtocolError` or `FrameTooLargeError`
   * for bytes that can never become an acceptable frame; the reader is unusable afterwards.
   */
  read(): T | typeof INCOMPLETE {
    for (;;) {
      const head = this.head;
      if (head !== null) {
        if (this.expected === NEED_MORE) this.expected = this.sizeOfNextFrame(head);
        const size = this.expected;
        if (size !== NEED_MORE && size <= this.end - this.start) {
          const frameStart = this.start;
          this.start += size;
          this.expected = NEED_MORE;
          if (this.start === this.end) this.head = null;
          return this.decodeFrame(head, frameStart, frameStart + size);
        }
      }
      if (this.tail === null) return INCOMPLETE;
      this.absorbTail(false);
    }
  }

  /** Drops everything buffered. */
  clear(): void {
    this.head = null;
    this.tail = null;
    this.expected = NEED_MORE;
  }

  private borrow(chunk: Buffer, offset: number): void {
    this.head = chunk;
    this.start = offset;
    this.end = chunk.length;
    this.owned = false;
  }

  /**
   * Moves bytes from `tail` into `head`: only what completes the current frame when its size
   * is known, else (header split across chunks) the whole tail.
   */
  private absorbTail(all: boolean): void {
    const tail = this.tail as Buffer;
    if (this.head === null) {
      this.tail = null;
      this.borrow(tail, this.tailOffset);
      return;
    }
    const held = this.end - this.start;
    const available = tail.length - this.tailOffset;
    const take = all || this.expected === NEED_MORE ? available : Math.min(available, this.expected - held);
    const wanted = Math.max(held + take, this.expected === NEED_MORE ? 0 : this.expected);
    if (!this.owned || this.head.length - this.start < wanted) {
      const grown = Buffer.allocUnsafe(this.expected === NEED_MORE ? Math.max(wanted, held * 2) : wanted);
      this.head.copy(grown, 0, this.start, this.end);
      this.head = grown;
      this.start = 0;
      this.end = held;
      this.owned = true;
    }
    tail.copy(this.head, this.end, this.tailOffset, this.tailOffset + take);
    this.end += take;
    this.tailOffset += take;
    if (this.tailOffset === tail.length) this.tail = null;
  }

  private sizeOfNextFrame(head: Buffer): number {
    const available = this.end - this.start;
    let size: number;
    try {
      size = this.decoder.frameSize(head, this.start, this.end);
    } catch (err) {
      throw asProtocolError(err, 'invalid frame header');
    }
    if (size === NEED_MORE) {
      if (available > this.maxFrameBytes) throw new FrameTooLargeError(available, this.maxFrameBytes, 'inbound');
      return NEED_MORE;
    }
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new ProtocolError(`decoder reported an invalid frame size: ${size}`);
    }
    if (size > this.maxFrameBytes) throw new FrameTooLargeError(size, this.maxFrameBytes, 'inbound');
    return size;
  }

  private decodeFrame(buffer: Buffer, start: number, end: number): T {
    try {
      return this.decoder.decode(buffer, start, end);
    } catch (err) {
      throw asProtocolError(err, 'undecodable frame');
    }
  }
}

function asProtocolError(err: unknown, what: string): ProtosocketError {
  if (err instanceof ProtosocketError) return err;
  return new ProtocolError(`${what}: ${messageOf(err)}`, { cause: err });
}
