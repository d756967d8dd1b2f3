import { ControlCode, jsonCodec, RpcClient, type RpcFrame } from '../../src/rpc/index.js';
import { deferred, within } from '../helpers/async.js';
import { codeOf, rejection } from '../helpers/errors.js';
import { encode } from '../helpers/frames.js';
import { rawPeer, whenClosed } from '../helpers/net.js';
import { frameClient, frameServer, rpcPair, type FrameConnection, type FrameInbox, type RpcPair } from './support.js';

const is = (id: number, code: ControlCode) => (frame: RpcFrame) => frame.id === id && frame.code === code;

describe('a server facing a hand-driven client', () => {
  let pair: RpcPair;
  let gate: ReturnType<typeof deferred<string>>;
  let gateCalls: number;

  beforeEach(async () => {
    gate = deferred<string>();
    gateCalls = 0;
    pair = await rpcPair((server) =>
      server
        .handle('gate', () => {
          gateCalls++;
          return gate.promise;
        })
        .handle('echo', (data) => data),
    );
  });

  afterEach(() => pair.dispose());

  async function client(): Promise<{ conn: FrameConnection; inbox: FrameInbox }> {
    return frameClient(pair.port);
  }

  it('a request reusing the id of a call in flight gets ERR_DUPLICATE_ID; the first call still completes', async () => {
    const { conn, inbox } = await client();
    try {
      conn.send({ id: 7, code: ControlCode.Normal, pattern: 'gate', data: null });
      conn.send({ id: 7, code: ControlCode.Normal, pattern: 'gate', data: null });
      // Refusing a duplicate must not forget the call that holds the id.
      conn.send({ id: 7, code: ControlCode.Normal, pattern: 'gate', data: null });

      for (const which of ['second', 'third']) {
        const refused = await within(inbox.next(is(7, ControlCode.Error)), 2000, `the ${which} request to be refused`);
        expect(refused.data).toMatchObject({ code: 'ERR_DUPLICATE_ID' });
      }
      expect(gateCalls).toBe(1);

      gate.resolve('first');
      const reply = await within(inbox.next(is(7, ControlCode.Reply)), 2000, 'the first call to reply');
      expect(reply.data).toBe('first');
      expect(inbox.isOpen).toBe(true);
    } finally {
      conn.destroy();
      await conn.closed;
    }
  });

  it('Cancel for a finished call or an unknown id is ignored; the connection stays up', async () => {
    const { conn, inbox } = await client();
    try {
      conn.send({ id: 1, code: ControlCode.Normal, pattern: 'echo', data: 'one' });
      expect((await within(inbox.next(is(1, ControlCode.Reply)), 2000, 'reply 1')).data).toBe('one');

      conn.send({ id: 1, code: ControlCode.Cancel });
      conn.send({ id: 4242, code: ControlCode.Cancel });
      conn.send({ id: 0, code: ControlCode.Cancel });
      conn.send({ id: 5, code: ControlCode.Ping });
      await within(inbox.next(is(5, ControlCode.Pong)), 2000, 'the pong');

      conn.send({ id: 2, code: ControlCode.Normal, pattern: 'echo', data: 'two' });
      expect((await within(inbox.next(is(2, ControlCode.Reply)), 2000, 'reply 2')).data).toBe('two');
      expect(inbox.isOpen).toBe(true);
      expect(inbox.frames).toEqual([]);
    } finally {
      conn.destroy();
      await conn.closed;
    }
  });

  it('a request for an unknown pattern gets ERR_NO_HANDLER; the connection stays up', async () => {
    const { conn, inbox } = await client();
    try {
      conn.send({ id: 3, code: ControlCode.Normal, pattern: 'nobody', data: null });
      const refused = await within(inbox.next(is(3, ControlCode.Error)), 2000, 'the refusal');
      expect(refused.data).toMatchObject({ code: 'ERR_NO_HANDLER' });
      conn.send({ id: 4, code: ControlCode.Normal, pattern: 'echo', data: 4 });
      expect((await within(inbox.next(is(4, ControlCode.Reply)), 2000, 'reply 4')).data).toBe(4);
    } finally {
      conn.destroy();
      await conn.closed;
    }
  });

  const garbage: [string, Buffer][] = [
    ['a frame shorter than the envelope', Buffer.from([0, 0, 0, 2, 0, 0])],
    ['an unknown control code', encode(jsonCodec.encoder, { id: 1, code: ControlCode.Normal, pattern: 'echo' }).fill(0x7f, 4, 5)],
    ['unknown flags', encode(jsonCodec.encoder, { id: 1, code: ControlCode.Normal, pattern: 'echo' }).fill(0xe0, 5, 6)],
    ['a Reply (only a server may send one)', encode(jsonCodec.encoder, { id: 1, code: ControlCode.Reply, data: 1 })],
    ['a GoAway (only a server may send one)', encode(jsonCodec.encoder, { id: 0, code: ControlCode.GoAway })],
  ];

  it.each(garbage)('%s closes that connection; other connections keep working', async (_name, bytes) => {
    expect(await pair.client.call('echo', 'before')).toBe('before');
    const peer = await rawPeer(pair.port);
    const closed = whenClosed(peer);
    peer.write(bytes);
    await within(closed, 2000, 'the server to close the connection');

    expect(await pair.client.call('echo', 'after')).toBe('after');
    expect(pair.client.status).toBe('connected');
    expect(pair.server.connectionCount).toBe(1);
  });
});

describe('a server facing a client that sends intact frames with bad content', () => {
  let pair: RpcPair;

  beforeEach(async () => {
    pair = await rpcPair((server) => server.handle('echo', (data) => data));
  });

  afterEach(() => pair.dispose());

  it('data that is not JSON fails that call with ERR_BAD_REQUEST; the connection keeps working', async () => {
    const { conn, inbox } = await frameClient(pair.port);
    try {
      const bytes = Buffer.concat([encode(jsonCodec.encoder, { id: 1, code: ControlCode.Normal, pattern: 'echo', data: 'abc' }).subarray(0, -1), Buffer.from('!')]);
      conn.unwrap().write(bytes);
      const refused = await within(inbox.next(is(1, ControlCode.Error)), 2000, 'the bad request to be refused');
      expect(refused.data).toMatchObject({ code: 'ERR_BAD_REQUEST', message: expect.stringContaining('invalid JSON payload') });

      conn.send({ id: 2, code: ControlCode.Normal, pattern: 'echo', data: 'after' });
      expect((await within(inbox.next(is(2, ControlCode.Reply)), 2000, 'the next call to reply')).data).toBe('after');
      expect(inbox.isOpen).toBe(true);
    } finally {
      conn.destroy();
    }
  });
});

describe('a client facing a hand-driven server', () => {
  /** Replies to `echo` with a correct Reply surrounded by frames for no call in flight. */
  function strayFrames(frame: RpcFrame, conn: FrameConnection): void {
    if (frame.code === ControlCode.Ping) {
      conn.send({ id: frame.id, code: ControlCode.Pong });
      return;
    }
    if (frame.code !== ControlCode.Normal) return;
    conn.send({ id: 999, code: ControlCode.Reply, data: 'stray reply' });
    conn.send({ id: 999, code: ControlCode.End });
    conn.send({ id: 998, code: ControlCode.Normal, data: 'stray item' });
    conn.send({ id: 997, code: ControlCode.Error, data: { message: 'stray error' } });
    conn.send({ id: 996, code: ControlCode.Cancel });
    conn.send({ id: 4321, code: ControlCode.Pong });
    conn.send({ id: frame.id, code: ControlCode.Reply, data: frame.data });
    conn.send({ id: frame.id, code: ControlCode.End });
    conn.send({ id: frame.id, code: ControlCode.Reply, data: 'late' });
  }

  it('frames for ids with no call in flight, and a second End, are dropped; real calls complete', async () => {
    const fake = await frameServer(strayFrames);
    const client = new RpcClient({ port: fake.port });
    try {
      const replies = await within(Promise.all([1, 2, 3, 4, 5].map((n) => client.call('echo', { n }))), 2000, 'the calls');
      expect(replies).toEqual([1, 2, 3, 4, 5].map((n) => ({ n })));
      expect(await client.call('echo', 'again')).toBe('again');
      expect(client.status).toBe('connected');
      expect(client.currentSession?.inFlight).toBe(0);
    } finally {
      await client.close();
      await fake.close();
    }
  });

  it('an Event from the server is a protocol error: the connection closes and pending calls fail ERR_CONNECTION_CLOSED', async () => {
    const fake = await frameServer((frame, conn) => {
      if (frame.code === ControlCode.Normal && frame.pattern === 'provoke') conn.send({ id: 0, code: ControlCode.Event, pattern: 'nope', data: 1 });
      // Anything else is left unanswered.
    });
    const client = new RpcClient({ port: fake.port, reconnect: false });
    const errors: unknown[] = [];
    client.on('error', (err) => errors.push(err));
    try {
      const pending = rejection(client.call('hang', null));
      const provoking = rejection(client.call('provoke', null));
      const [first, second] = await within(Promise.all([pending, provoking]), 2000, 'the calls to fail');

      for (const err of [first, second]) {
        expect(codeOf(err)).toBe('ERR_CONNECTION_CLOSED');
        expect(codeOf((err as Error).cause)).toBe('ERR_PROTOCOL');
      }
      expect(errors.map(codeOf)).toContain('ERR_PROTOCOL');
      expect(client.status).toBe('disconnected');
    } finally {
      await client.close();
      await fake.close();
    }
  });
});
