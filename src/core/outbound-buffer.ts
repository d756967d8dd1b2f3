import { EncodeError } from './errors.js';

/**
 * Where encoders write outbound frames during one tick, until the connection flushes them.
 *
 * Small writes land in a shared scratch allocation, so many small frames leave as one buffer;
 * byte payloads of at least `referenceThreshold` bytes are queued by reference (zero copy), so
 * a tick's output is a short list of segments handed to one `writev`.
 *
 *   scratch: [ flushed ... | sealed segment | open segment ... pos | free ........ ]
 *                          ^ already in `segments`  ^ segmentStart  ^ pos
 *
 * Invariant: bytes of `scratch` before `pos` are never rewritten once `take()` has returned
 * them, except a frame header reserved by `beginFrame` and filled by `endFrame` before the
 * frame's segments are taken.
 *
 * The scratch is allocated by the first write that needs it, not up front, and `release()`
 * drops it when nothing is queued: an idle connection holds no outbound memory.
 */
/** The scratch while none is allocated: every reserve finds it full. */
const NO_SCRATCH = Buffer.alloc(0);

export class OutboundBuffer {
  private scratch: Buffer = NO_SCRATCH;
  private pos = 0;
  private segmentStart = 0;
  private segments: Uint8Array[] = [];
  private queued = 0;

  // The frame under construction (see beginFrame / endFrame).
  private headerBuffer: Buffer | null = null;
  private headerOffset = 0;
  private bodyStart = 0;

  // A rollback point (see mark / rewind).
  private markScratch: Buffer = NO_SCRATCH;
  private markPos = 0;
  private markSegmentStart = 0;
  private markSegments = 0;
  private markQueued = 0;

  constructor(
    private readonly chunkBytes = 64 * 1024,
    private readonly referenceThreshold = 16 * 1024,
  ) {}

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.queued;
  }

  writeUInt8(value: number): void {
    this.reserve(1);
    this.scratch[this.pos++] = value;
    this.queued += 1;
  }

  writeUInt32BE(value: number): void {
    this.reserve(4);
    this.scratch.writeUInt32BE(value, this.pos);
    this.pos += 4;
    this.queued += 4;
  }

  /** Appends bytes. Large ones are queued by reference: the caller must not change them afterwards. */
  writeBytes(bytes: Uint8Array): void {
    const size = bytes.byteLength;
    if (size >= this.referenceThreshold) {
      this.seal();
      this.segments.push(bytes);
      this.queued += size;
      return;
    }
    this.reserve(size);
    this.scratch.set(bytes, this.pos);
    this.pos += size;
    this.queued += size;
  }

  /** Appends `text` as UTF-8 and returns the number of bytes written. */
  writeUtf8(text: string): number {
    // A UTF-16 code unit never takes more than 3 bytes in UTF-8, nor less than 1: both bounds
    // need no scan of the text.
    const worstCase = text.length * 3;
    if (worstCase <= this.scratch.length - this.pos) {
      const size = this.scratch.write(text, this.pos, 'utf8');
      this.pos += size;
      this.queued += size;
      return size;
    }
    if (text.length >= this.referenceThreshold) {
      // Certainly large: encoded once into its own buffer and queued by reference.
      const bytes = Buffer.from(text, 'utf8');
      this.seal();
      this.segments.push(bytes);
      this.queued += bytes.length;
      return bytes.length;
    }
    const size = Buffer.byteLength(text, 'utf8');
    this.reserve(size);
    this.scratch.write(text, this.pos, size, 'utf8');
    this.pos += size;
    this.queued += size;
    return size;
  }

  /**
   * Reserves `headerBytes` for a frame header whose content depends on the body's length.
   * Write the body, then call `endFrame`. Frames do not nest.
   */
  beginFrame(headerBytes: number): void {
    this.reserve(headerBytes);
    this.headerBuffer = this.scratch;
    this.headerOffset = this.pos;
    this.pos += headerBytes;
    this.queued += headerBytes;
    this.bodyStart = this.queued;
  }

  /** Fills the reserved header via `writeHeader` and returns the body's length in bytes. */
  endFrame(writeHeader: (buffer: Buffer, offset: number, bodyLength: number) => void): number {
    const header = this.headerBuffer;
    // An encoder's mistake: inside Connection.send it is an ERR_ENCODE as any other encoder throw.
    if (header === null) throw EncodeError.withReason('endFrame without beginFrame');
    const bodyLength = this.queued - this.bodyStart;
    writeHeader(header, this.headerOffset, bodyLength);
    this.headerBuffer = null;
    return bodyLength;
  }

  /** Remembers the current end, so a failed encode can be undone with `rewind`. */
  mark(): void {
    this.markScratch = this.scratch;
    this.markPos = this.pos;
    this.markSegmentStart = this.segmentStart;
    this.markSegments = this.segments.length;
    this.markQueued = this.queued;
  }

  /** Drops everything written since `mark`. */
  rewind(): void {
    this.scratch = this.markScratch;
    this.pos = this.markPos;
    this.segmentStart = this.markSegmentStart;
    this.segments.length = this.markSegments;
    this.queued = this.markQueued;
    this.headerBuffer = null;
  }

  /** Bytes written since `mark`. */
  sinceMark(): number {
    return this.queued - this.markQueued;
  }

  /** Hands over every queued segment, in order, and empties the buffer. */
  take(): Uint8Array[] {
    this.seal();
    const taken = this.segments;
    this.segments = [];
    this.queued = 0;
    return taken;
  }

  /** Bytes of scratch allocated (0 while released). */
  get scratchBytes(): number {
    return this.scratch.length;
  }

  /**
   * Drops the scratch, if nothing is queued and no frame is under construction; the next write
   * allocates a new one. Taken segments keep their bytes alive for as long as they need them.
   */
  release(): void {
    if (this.queued !== 0 || this.headerBuffer !== null) return;
    this.scratch = NO_SCRATCH;
    this.markScratch = NO_SCRATCH;
    this.pos = 0;
    this.segmentStart = 0;
    this.markPos = 0;
    this.markSegmentStart = 0;
  }

  private seal(): void {
    if (this.pos > this.segmentStart) {
      this.segments.push(this.scratch.subarray(this.segmentStart, this.pos));
      this.segmentStart = this.pos;
    }
  }

  private reserve(size: number): void {
    if (this.scratch.length - this.pos >= size) return;
    this.seal();
    this.scratch = Buffer.allocUnsafeSlow(Math.max(size, this.chunkBytes));
    this.pos = 0;
    this.segmentStart = 0;
  }
}
