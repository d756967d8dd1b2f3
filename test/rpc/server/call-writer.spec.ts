import { EncodeError, FrameTooLargeError } from '../../../src/core/errors.js';
import { ControlCode, defaultSerializeError, type RpcFrame } from '../../../src/rpc/index.js';
import { type CallOutput, CallWriter } from '../../../src/rpc/server/call-writer.js';

/** A connection stand-in: records frames, has room while `writable`, refuses to encode bigints. */
class FakeOutput implements CallOutput {
  readonly frames: RpcFrame[] = [];
  writable = true;
  readonly waiting = new Set<CallWriter>();
  serializeError = defaultSerializeError;

  constructor(
    readonly maxBufferedItems = 4,
    readonly maxBufferedBytes = 1 << 30,
  ) {}

  send(frame: RpcFrame): void {
    if (typeof frame.data === 'bigint') throw new EncodeError(new TypeError('cannot encode a bigint'));
    if (frame.data === 'huge') throw new FrameTooLargeError(1 << 30, 1 << 20, 'outbound');
    this.frames.push(frame);
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

function setup(maxBufferedItems?: number): { out: FakeOutput; writer: TestWriter } {
  const out = new FakeOutput(maxBufferedItems);
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
