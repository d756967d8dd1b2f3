import { NEED_MORE, PEEK_PREFIX_BYTES, type Decoder } from './codec.js';
import { FrameTooLargeError, messageOf, ProtocolError, ProtosocketError } from './errors.js';

/**
 * Returned by `FrameReader.read` when no complete frame is buffered. Internal to core (the
 * connection's read loop); decoders signal an unknown size with the public `NEED_MORE`.
 */
export const INCOMPLETE: unique symbol = Symbol('incomplete');

/**
 * Returned by `FrameReader.readOrSkip` in place of a frame over `maxFrameBytes` whose id the decoder
 * could read (`Decoder.peekId`). The frame's remaining bytes are discarded as they arrive,
 * never buffered.
 */
export class OversizedFrame {
  constructor(
    /** The frame's size, as its header announced it. */
    readonly size: number,
    /** The `maxFrameBytes` it exceeds. */
    readonly limit: number,
    /** The id of the call the frame belongs to. */
    readonly id: number,
  ) {}
}

/**
 * A chunk smaller than this that continues a split frame is copied into a block, so a peer
 * trickling bytes costs its bytes, not a Buffer object per chunk. Larger chunks are kept by
 * reference.
 */
const COPY_CHUNKS_BELOW = 16 * 1024;
/** Small chunks are copied into blocks of this size (or the chunk's, if larger; never past the frame's end): at most this much is allocated ahead of the bytes. */
const BLOCK_BYTES = 4 * 1024;
/**
 * `readOrSkip` skips frames up to this many times maxFrameBytes; a header announcing more is
 * taken for broken framing (bytes of another protocol, or garbage, read as a length are
 * usually huge) and thrown at once, as is not worth reading a frame that size to keep the
 * connection.
 */
export const MAX_SKIPPED_FRAME_FACTOR = 16;

/** Bytes gathered at least when a frame's header is split across chunks. */
const HEADER_PROBE_BYTES = 64;

/**
 * Turns a stream of chunks into decoded messages. Pure: no I/O, no timers; the connection
 * pushes chunks and pulls messages, which lets it stop between two messages (read pausing).
 *
 * Unparsed bytes are `head[start, end)` followed by `pieces`:
 *
 *   head: [ delivered ... | start ...... end | free (owned head only) ]
 *   pieces: [ chunk kept by reference ] [ view of a block ] [ chunk ] ...
 *
 * A chunk is parsed in place while it holds whole frames (zero copy). A frame split across
 * chunks costs what has arrived of it, not what its header announced: its bytes wait in
 * `pieces` and are copied once, into a buffer of exactly the frame's size, when the last one
 * arrives. Small chunks are first copied into 4 KiB blocks, so a frame's
 * body is copied at most twice (a split header's first bytes, at most `HEADER_PROBE_BYTES`,
 * once more). A decoder that cannot size a frame before its end (NEED_MORE) has its bytes
 * gathered into one buffer that doubles as they come.
 *
 * Invariant: bytes that a delivered message may reference are never written again. Only the
 * free space past `end` of a head we allocated, or past `blockEnd` of the current block, is
 * written, and no message or other piece views it.
 */
export class FrameReader<T> {
  private head: Buffer | null = null;
  private start = 0;
  private end = 0;
  /** `head` was allocated here, so its free space [end, head.length) may be written. */
  private headOwned = false;
  private expected = NEED_MORE;
  private pieces: Buffer[] = [];
  private piecesBytes = 0;
  /** Small chunks are copied to block[blockEnd...]; while set, the last piece is block[blockPieceStart, blockEnd). */
  private block: Buffer | null = null;
  private blockPieceStart = 0;
  private blockEnd = 0;
  /** Bytes of an oversized frame still to discard. While above 0, nothing is buffered. */
  private skipping = 0;

  constructor(
    private readonly decoder: Decoder<T>,
    private readonly maxFrameBytes: number,
  ) {}

  /** Bytes received and not yet delivered as messages (nor skipped). */
  get buffered(): number {
    return (this.head === null ? 0 : this.end - this.start) + this.piecesBytes;
  }

  push(chunk: Buffer): void {
    if (this.skipping > 0) {
      const dropped = Math.min(this.skipping, chunk.length);
      this.skipping -= dropped;
      chunk = chunk.subarray(dropped);
    }
    if (chunk.length === 0) return;
    if (this.head === null && this.pieces.length === 0) {
      this.head = chunk;
      this.start = 0;
      this.end = chunk.length;
      this.headOwned = false;
      return;
    }
    this.append(chunk);
  }

  /**
   * The next complete message, or INCOMPLETE. Throws `ProtocolError` or `FrameTooLargeError`
   * for bytes that can never become an acceptable frame; the reader is unusable afterwards.
   */
  read(): T | typeof INCOMPLETE {
    return this.next(false) as T | typeof INCOMPLETE;
  }

  /**
   * As `read`, but a frame over `maxFrameBytes` (and at most MAX_SKIPPED_FRAME_FACTOR times
   * it) whose id the decoder can read from its first bytes (`Decoder.peekId`) is skipped instead of thrown: reported once as an
   * `OversizedFrame`, then discarded as it arrives. The reader stays usable.
   */
  readOrSkip(): T | OversizedFrame | typeof INCOMPLETE {
    return this.next(true);
  }

  private next(skipOversized: boolean): T | OversizedFrame | typeof INCOMPLETE {
    for (;;) {
      if (this.skipping > 0) {
        this.discard();
        if (this.skipping > 0) return INCOMPLETE;
      }
      if (this.head === null) {
        if (this.pieces.length === 0) return INCOMPLETE;
        this.takeFirstPiece();
      }
      if (this.expected === NEED_MORE) {
        this.expected = this.sizeOfNextFrame();
        if (this.expected === NEED_MORE) {
          if (this.pieces.length === 0) return INCOMPLETE;
          const held = this.end - this.start;
          this.gather(held + Math.max(held, HEADER_PROBE_BYTES));
          continue;
        }
      }
      const size = this.expected;
      if (size > this.maxFrameBytes) {
        if (!skipOversized || size > this.maxFrameBytes * MAX_SKIPPED_FRAME_FACTOR) {
          throw new FrameTooLargeError(size, this.maxFrameBytes, 'inbound');
        }
        return this.skip(size);
      }
      if (size > this.end - this.start) {
        if (this.buffered < size) return INCOMPLETE;
        this.assemble(size);
      }
      const head = this.head as Buffer;
      const frameStart = this.start;
      this.start += size;
      this.expected = NEED_MORE;
      if (this.start === this.end) this.dropHead();
      return this.decodeFrame(head, frameStart, frameStart + size);
    }
  }

  /** Drops everything buffered. */
  clear(): void {
    this.dropHead();
    this.pieces = [];
    this.piecesBytes = 0;
    this.block = null;
    this.expected = NEED_MORE;
    this.skipping = 0;
  }

  private dropHead(): void {
    this.head = null;
    this.headOwned = false;
  }

  /** Queues a chunk behind what is buffered: by reference when large, else copied into a block. */
  private append(chunk: Buffer): void {
    const size = chunk.length;
    if (size >= COPY_CHUNKS_BELOW) {
      this.pieces.push(chunk);
      this.piecesBytes += size;
      this.block = null;
      return;
    }
    const head = this.head;
    if (head !== null && this.headOwned && this.pieces.length === 0 && head.length - this.end >= size) {
      chunk.copy(head, this.end);
      this.end += size;
      return;
    }
    let block = this.block;
    if (block === null || block.length - this.blockEnd < size) {
      let capacity = BLOCK_BYTES;
      if (this.expected !== NEED_MORE) capacity = Math.min(capacity, this.expected - this.buffered);
      block = Buffer.allocUnsafe(Math.max(capacity, size));
      this.block = block;
      this.blockPieceStart = 0;
      this.blockEnd = 0;
      this.pieces.push(block.subarray(0, 0));
    }
    chunk.copy(block, this.blockEnd);
    this.blockEnd += size;
    this.pieces[this.pieces.length - 1] = block.subarray(this.blockPieceStart, this.blockEnd);
    this.piecesBytes += size;
  }

  private takeFirstPiece(): void {
    const piece = this.pieces.shift() as Buffer;
    this.piecesBytes -= piece.length;
    if (this.pieces.length === 0) this.block = null;
    this.head = piece;
    this.start = 0;
    this.end = piece.length;
    this.headOwned = false;
  }

  /**
   * Makes `head` hold `wanted` bytes (or all there is) in one buffer, for a decoder that
   * needs more contiguous bytes to size a frame or to read its id.
   */
  private gather(wanted: number): void {
    const held = this.end - this.start;
    const target = Math.min(wanted, this.buffered);
    if (held >= target) return;
    const head = this.head as Buffer;
    if (!this.headOwned || head.length - this.start < target) {
      const grown = Buffer.allocUnsafe(wanted);
      head.copy(grown, 0, this.start, this.end);
      this.head = grown;
      this.start = 0;
      this.end = held;
      this.headOwned = true;
    }
    this.end = this.movePieces(this.head as Buffer, this.end, this.start + target);
  }

  /** Replaces `head` with the whole frame of `size` bytes, all of which are buffered. */
  private assemble(size: number): void {
    const head = this.head as Buffer;
    if (this.headOwned && head.length - this.start >= size) {
      this.end = this.movePieces(head, this.end, this.start + size);
      return;
    }
    const frame = Buffer.allocUnsafe(size);
    const held = head.copy(frame, 0, this.start, this.end);
    this.movePieces(frame, held, size);
    this.head = frame;
    this.start = 0;
    this.end = size;
    this.headOwned = false;
  }

  /** Copies the first pieces into `target[at, until)` and drops what was copied. Returns `until`. */
  private movePieces(target: Buffer, at: number, until: number): number {
    let used = 0;
    while (at < until) {
      const piece = this.pieces[used] as Buffer;
      const take = Math.min(piece.length, until - at);
      piece.copy(target, at, 0, take);
      at += take;
      this.piecesBytes -= take;
      if (take === piece.length) used++;
      else this.pieces[used] = piece.subarray(take);
    }
    this.dropPieces(used);
    return at;
  }

  private dropPieces(count: number): void {
    if (count === this.pieces.length) this.pieces = [];
    else this.pieces.splice(0, count);
    // The last piece may have been shortened or dropped: the block no longer describes it.
    this.block = null;
  }

  /** A frame over maxFrameBytes: reported once its id is readable, then discarded as it arrives. */
  private skip(size: number): OversizedFrame | typeof INCOMPLETE {
    const peekId = this.decoder.peekId;
    if (peekId === undefined) throw new FrameTooLargeError(size, this.maxFrameBytes, 'inbound');
    const prefix = Math.min(size, PEEK_PREFIX_BYTES);
    if (this.end - this.start < prefix) {
      if (this.buffered < prefix) return INCOMPLETE;
      this.gather(prefix);
    }
    const head = this.head as Buffer;
    let id: number | undefined;
    try {
      id = peekId.call(this.decoder, head, this.start, this.start + Math.min(size, this.end - this.start));
    } catch (err) {
      throw asProtocolError(err, 'unreadable frame id');
    }
    if (id === undefined) throw new FrameTooLargeError(size, this.maxFrameBytes, 'inbound');
    this.expected = NEED_MORE;
    this.skipping = size;
    this.discard();
    return new OversizedFrame(size, this.maxFrameBytes, id);
  }

  /** Drops buffered bytes of the frame being skipped. */
  private discard(): void {
    if (this.head !== null) {
      const dropped = Math.min(this.skipping, this.end - this.start);
      this.start += dropped;
      this.skipping -= dropped;
      if (this.start < this.end) return;
      this.dropHead();
    }
    let used = 0;
    while (this.skipping > 0 && used < this.pieces.length) {
      const piece = this.pieces[used] as Buffer;
      const dropped = Math.min(piece.length, this.skipping);
      this.skipping -= dropped;
      this.piecesBytes -= dropped;
      if (dropped === piece.length) used++;
      else this.pieces[used] = piece.subarray(dropped);
    }
    if (used > 0) this.dropPieces(used);
  }

  private sizeOfNextFrame(): number {
    const head = this.head as Buffer;
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
