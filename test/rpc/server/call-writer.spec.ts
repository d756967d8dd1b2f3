import { EncodeError, FrameTooLargeError } from '../../../src/core/errors.js';
import { ControlCode, defaultSerializeError, type RpcFrame } from '../../../src/rpc/index.js';
import { type CallOutput, CallWriter } from '../../../src/rpc/server/call-writer.js';
import { STREAM_WINDOW } from '../../../src/rpc/wire/flow-control.js';

/** A connection stand-in: records frames, has room while `writable`, refuses to encode bigints. */
class FakeOutput implements CallOutput {
  readonly frames: RpcFrame[] = [];
  writable = true;
  readonly waiting = new Set<CallWriter>();
  serializeError = defaultSerializeError;
  readonly foldsSingleItemStreams = true;

  constructor(
    readonly maxBufferedItems = 4,
    readonly maxBufferedBytes = 1 << 30,
    readonly flowControlled = true,
  ) {}

  send(frame: RpcFrame): boolean {
    if (typeof frame.data === 'bigint') throw new EncodeError(new TypeError('cannot encode a bigint'));
    if (frame.data === 'huge') throw new FrameTooLargeError(1 << 30, 1 << 20, 'outbound');
    this.frames.push(frame);
    return this.writable;
  }

  waitWritable(writer: CallWriter): void {
    this.waiting.add(writer);
  }

  stopWaiting(writer: CallWriter): void {
    this.waiting.delete(writer);
  }

  /** The connection drained: what the session's ConnectionOutput does. */
  drain(): void {
    this.writable = true;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const writer of waiting) writer.onWritable();
  }

  codes(): ControlCode[] {
    return this.frames.map((frame) => frame.code);
  }
}

class TestWriter extends CallWriter {
  closes = 0;

  constructor(out: CallOutput) {
    super(1, out);
  }

  cancel(): void {
    this.close();
  }

  protected onClosed(): void {
    this.closes++;
  }
}

function setup(maxBufferedItems?: number, maxBufferedBytes?: number): { out: FakeOutput; writer: TestWriter } {
  const out = new FakeOutput(maxBufferedItems, maxBufferedBytes);
  return { out, writer: new TestWriter(out) };
}

describe('CallWriter', () => {
  it('sends items at once while there is room, then one terminal frame and nothing after it', () => {
    const { out, writer } = setup();
    writer.item('a');
    writer.item('b');
    writer.end();
    writer.item('c');
    writer.reply('d');
    writer.fail(new Error('late'));
    expect(out.frames).toEqual([
      { id: 1, code: ControlCode.Normal, data: 'a' },
      { id: 1, code: ControlCode.Normal, data: 'b' },
      { id: 1, code: ControlCode.End, data: undefined },
    ]);
    expect(writer.done).toBe(true);
    expect(writer.closes).toBe(1);
  });

  it('queues items while there is no room and sends them in order, then the held terminal frame, on drain', () => {
    const { out, writer } = setup();
    writer.item(1);
    out.writable = false;
    writer.item(2);
    writer.item(3);
    writer.fail(new Error('source failed'));
    expect(out.codes()).toEqual([ControlCode.Normal]);
    expect(writer.done).toBe(false);
    expect(writer.backlogged).toBe(true);

    out.drain();
    expect(out.frames.map((frame) => frame.data)).toEqual([1, 2, 3, { name: 'Error', message: 'source failed' }]);
    expect(out.codes().at(-1)).toBe(ControlCode.Error);
    expect(writer.done).toBe(true);
  });

  it('item() tells whether the next item would go straight out: the room the send reported, false once queued or closed', () => {
    const { out, writer } = setup();
    expect(writer.item('a')).toBe(true);
    out.send = (frame) => {
      out.frames.push(frame);
      return false;
    };
    expect(writer.item('b')).toBe(false);
    out.writable = false;
    expect(writer.item('c')).toBe(false);
    expect(writer.backlogged).toBe(true);
    writer.cancel();
    expect(writer.item('d')).toBe(false);
    expect(out.frames.map((frame) => frame.data)).toEqual(['a', 'b']);
  });

  it('fails with ERR_SLOW_CONSUMER, at once and once, one item past maxBufferedItems', () => {
    const { out, writer } = setup(2);
    out.writable = false;
    for (let i = 0; i < 5; i++) writer.item(i);
    writer.end();
    expect(out.frames).toEqual([{ id: 1, code: ControlCode.Error, data: expect.objectContaining({ code: 'ERR_SLOW_CONSUMER' }) }]);
    expect(out.waiting.size).toBe(0);
    out.drain();
    expect(out.frames).toHaveLength(1);
  });

  it('failNow drops the queue and sends the Error before the queued items', () => {
    const { out, writer } = setup();
    out.writable = false;
    writer.item(1);
    writer.failNow(new Error('deadline'));
    expect(out.frames).toEqual([{ id: 1, code: ControlCode.Error, data: { name: 'Error', message: 'deadline' } }]);
    expect(out.waiting.size).toBe(0);
  });

  it('close sends nothing, forgets the queue and wakes a waiting producer', async () => {
    const { out, writer } = setup();
    out.writable = false;
    writer.item(1);
    const woken = writer.whenWritable();
    writer.cancel();
    await woken;
    out.drain();
    writer.end();
    expect(out.frames).toEqual([]);
    expect(writer.done).toBe(true);
  });

  it('whenWritable resolves once the queue has drained and the connection has room', async () => {
    const { out, writer } = setup();
    out.writable = false;
    writer.item(1);
    let woken = false;
    const waiting = writer.whenWritable().then(() => (woken = true));
    await Promise.resolve();
    expect(woken).toBe(false);
    out.drain();
    await waiting;
    expect(out.frames.map((frame) => frame.data)).toEqual([1]);
    expect(writer.writable).toBe(true);
  });

  it('a reply that cannot be encoded becomes the Error frame, its body from serializeError', () => {
    const { out, writer } = setup();
    writer.reply(1n);
    expect(out.frames).toEqual([{ id: 1, code: ControlCode.Error, data: expect.objectContaining({ name: 'EncodeError', code: 'ERR_ENCODE' }) }]);
    expect(writer.done).toBe(true);
  });

  it('a stream item over maxFrameBytes ends the stream with ERR_FRAME_TOO_LARGE', () => {
    const { out, writer } = setup();
    writer.item('fine');
    writer.item('huge');
    writer.item('after');
    expect(out.codes()).toEqual([ControlCode.Normal, ControlCode.Error]);
    expect(out.frames[1]?.data).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' });
  });

  it('an error body that cannot be encoded is replaced by the encode error name, code and message', () => {
    const { out, writer } = setup();
    out.serializeError = () => 2n;
    writer.fail(new Error('boom'));
    expect(out.frames).toEqual([
      { id: 1, code: ControlCode.Error, data: { name: 'EncodeError', code: 'ERR_ENCODE', message: 'encoder failed: cannot encode a bigint' } },
    ]);
  });
});

describe('CallWriter credit (per-call flow control)', () => {
  it('sends at most the window of items, queues the rest, and sends them as credit is granted', () => {
    const { out, writer } = setup(1 << 20);
    for (let i = 0; i < STREAM_WINDOW + 10; i++) writer.item(i);
    expect(out.frames).toHaveLength(STREAM_WINDOW);
    expect(writer.writable).toBe(false);
    // Out of credit, not of room: nothing waits for a drain.
    expect(out.waiting.size).toBe(0);
    writer.end();
    expect(out.codes().at(-1)).toBe(ControlCode.Normal);

    writer.grant(4);
    expect(out.frames).toHaveLength(STREAM_WINDOW + 4);
    writer.grant(100);
    expect(out.frames.map((frame) => frame.data).slice(STREAM_WINDOW)).toEqual([...Array.from({ length: 10 }, (_, i) => STREAM_WINDOW + i), undefined]);
    // The End needed no credit of its own.
    expect(out.codes().at(-1)).toBe(ControlCode.End);
  });

  it('item() reports no room once the last credit is spent, and room again after a grant', () => {
    const { writer } = setup();
    for (let i = 0; i < STREAM_WINDOW - 1; i++) expect(writer.item(i)).toBe(true);
    expect(writer.item('last')).toBe(false);
    expect(writer.writable).toBe(false);
    writer.grant(1);
    expect(writer.item('granted')).toBe(false);
    writer.grant(2);
    expect(writer.item('more')).toBe(true);
  });

  it('a reply needs no credit: a unary call never waits for any', () => {
    const { out, writer } = setup();
    for (let i = 0; i < STREAM_WINDOW; i++) writer.item(i);
    writer.reply('last');
    expect(out.codes().at(-1)).toBe(ControlCode.Reply);
  });

  it('wakes a pulled source waiting for credit once it is granted', async () => {
    const { out, writer } = setup();
    for (let i = 0; i < STREAM_WINDOW; i++) writer.item(i);
    let woken = false;
    const waiting = writer.whenWritable().then(() => (woken = true));
    await Promise.resolve();
    expect(woken).toBe(false);
    writer.grant(1);
    await waiting;
    expect(writer.writable).toBe(true);
    expect(out.frames).toHaveLength(STREAM_WINDOW);
  });

  it('fails with ERR_SLOW_CONSUMER naming bytes past maxBufferedBytes', () => {
    const { out, writer } = setup(1 << 20, 10_000);
    out.writable = false;
    for (let i = 0; i < 20; i++) writer.item('x'.repeat(1000));
    expect(out.frames).toEqual([
      { id: 1, code: ControlCode.Error, data: expect.objectContaining({ code: 'ERR_SLOW_CONSUMER', message: expect.stringContaining('10000 bytes of stream items (maxBufferedBytes)') }) },
    ]);
  });

  it('without flow control (protosocket-rpc) only the room on the connection counts', () => {
    const out = new FakeOutput(4, 1 << 30, false);
    const writer = new TestWriter(out);
    for (let i = 0; i < STREAM_WINDOW * 3; i++) writer.item(i);
    expect(out.frames).toHaveLength(STREAM_WINDOW * 3);
  });
});
