import { ControlCode, jsonCodec, RemoteError, RpcClient, type Metadata, type RpcFrame } from '../../src/rpc/index.js';
import { deferred, within } from '../helpers/async.js';
import { rejection } from '../helpers/errors.js';
import { encode } from '../helpers/frames.js';
import { frameClient, frameServer, rpcPair, type RpcPair } from './support.js';
import { codecNames, codecs } from './wire/support.js';

const KiB = 1024;
const is = (id: number, code: ControlCode) => (frame: RpcFrame) => frame.id === id && frame.code === code;

describe.each(codecNames)('a request over the server’s maxFrameBytes (%s)', (name) => {
  let pair: RpcPair;
  let gate: ReturnType<typeof deferred<string>>;
  const reported: unknown[] = [];

  beforeEach(async () => {
    gate = deferred<string>();
    reported.length = 0;
    pair = await rpcPair(
      (server) => {
        server.handle('gate', () => gate.promise).handle('echo', (data) => data);
        server.on('error', (err) => reported.push(err));
      },
      { server: { codec: codecs[name], limits: { maxFrameBytes: 64 * KiB } }, client: { codec: codecs[name] } },
    );
  });

  afterEach(() => pair.dispose());

  it('fails that call with ERR_FRAME_TOO_LARGE naming the limit; the other calls on the connection go on', async () => {
    const held = pair.client.call('gate', null);
    expect(await pair.client.call('echo', 'before')).toBe('before');
    const session = pair.client.currentSession;

    const error = await rejection(pair.client.call('echo', 'x'.repeat(200 * KiB)));
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).remoteCode).toBe('ERR_FRAME_TOO_LARGE');
    expect((error as RemoteError).message).toMatch(/exceeds the server's maxFrameBytes \(65536\)/);

    expect(await pair.client.call('echo', 'after')).toBe('after');
    gate.resolve('held');
    expect(await held).toBe('held');
    expect(pair.client.currentSession).toBe(session);
    expect(pair.server.connectionCount).toBe(1);
    expect(reported).toEqual([expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' })]);
  });
});

describe('a reply over the client’s maxFrameBytes', () => {
  let pair: RpcPair;

  beforeEach(async () => {
    pair = await rpcPair((server) => server.handle('big', (size) => 'y'.repeat(size as number)).handle('echo', (data) => data), {
      client: { limits: { maxFrameBytes: 64 * KiB } },
    });
  });

  afterEach(() => pair.dispose());

  it('fails that call with ERR_FRAME_TOO_LARGE; the connection goes on', async () => {
    expect(await pair.client.call('echo', 'before')).toBe('before');
    const session = pair.client.currentSession;
    const error = await rejection(pair.client.call('big', 200 * KiB));
    expect(error).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', limit: 64 * KiB });
    expect(await pair.client.call('echo', 'after')).toBe('after');
    expect(pair.client.currentSession).toBe(session);
  });
});

describe('frames with bad metadata', () => {
  let pair: RpcPair;
  let gate: ReturnType<typeof deferred<string>>;
  const reported: unknown[] = [];
  const events: unknown[] = [];

  beforeEach(async () => {
    gate = deferred<string>();
    reported.length = 0;
    events.length = 0;
    pair = await rpcPair((server) => {
      server
        .handle('gate', () => gate.promise)
        .handle('echo', (data) => data)
        .handleEvent('note', (data) => {
          events.push(data);
        });
      server.on('error', (err) => reported.push(err));
    });
  });

  afterEach(() => pair.dispose());

  it('a request whose meta holds a non-string value fails with ERR_BAD_REQUEST naming the key; other calls go on', async () => {
    const { conn, inbox } = await frameClient(pair.port);
    try {
      conn.send({ id: 1, code: ControlCode.Normal, pattern: 'gate', data: null });
      conn.send({ id: 2, code: ControlCode.Normal, pattern: 'echo', data: 'bad', meta: { fine: 'yes', x: 1 } as unknown as Metadata });
      const refused = await within(inbox.next(is(2, ControlCode.Error)), 2000, 'the bad request to be refused');
      expect(refused.data).toEqual({ name: 'BadRequestError', code: 'ERR_BAD_REQUEST', message: 'bad request: meta value for key "x" must be a string, got number' });

      conn.send({ id: 3, code: ControlCode.Normal, pattern: 'echo', data: 'after', meta: { fine: 'yes' } });
      expect((await within(inbox.next(is(3, ControlCode.Reply)), 2000, 'the next call')).data).toBe('after');
      gate.resolve('held');
      expect((await within(inbox.next(is(1, ControlCode.Reply)), 2000, 'the call in flight')).data).toBe('held');
      expect(inbox.isOpen).toBe(true);
    } finally {
      conn.destroy();
    }
  });

  it('an event whose meta holds a non-string value is reported and dropped; the connection goes on', async () => {
    const { conn, inbox } = await frameClient(pair.port);
    try {
      conn.send({ id: 0, code: ControlCode.Event, pattern: 'note', data: 'bad', meta: { n: null } as unknown as Metadata });
      conn.send({ id: 0, code: ControlCode.Event, pattern: 'note', data: 'good' });
      conn.send({ id: 1, code: ControlCode.Normal, pattern: 'echo', data: 'after' });
      expect((await within(inbox.next(is(1, ControlCode.Reply)), 2000, 'the call after the events')).data).toBe('after');
      expect(events).toEqual(['good']);
      expect(reported).toEqual([expect.objectContaining({ code: 'ERR_PROTOCOL', message: 'meta value for key "n" must be a string, got null' })]);
    } finally {
      conn.destroy();
    }
  });

  it('the client refuses bad metadata before sending, naming the key (ERR_INVALID_METADATA)', async () => {
    const bad = { ok: 'yes', count: 3 } as unknown as Metadata;
    const error = await rejection(pair.client.call('echo', 1, { meta: bad }));
    expect(error).toMatchObject({ code: 'ERR_INVALID_METADATA', message: 'meta value for key "count" must be a string, got number' });
    await expect(pair.client.sendEvent('note', 1, bad)).rejects.toMatchObject({ code: 'ERR_INVALID_METADATA', message: expect.stringContaining('"count"') });
    expect(await pair.client.call('echo', 'after', { meta: { ok: 'yes' } })).toBe('after');
    expect(reported).toEqual([]);
  });
});

describe('a reply with bad content', () => {
  it('fails that call on the client; the connection goes on', async () => {
    const fake = await frameServer((frame, conn) => {
      if (frame.code !== ControlCode.Normal) return;
      if (frame.pattern === 'broken') {
        const bytes = encode(jsonCodec.encoder, { id: frame.id, code: ControlCode.Reply, data: 'abc' });
        conn.unwrap().write(Buffer.concat([bytes.subarray(0, -1), Buffer.from('!')]));
      } else {
        conn.send({ id: frame.id, code: ControlCode.Reply, data: frame.data });
      }
    });
    const client = new RpcClient({ port: fake.port });
    try {
      expect(await client.call('echo', 'before')).toBe('before');
      const session = client.currentSession;
      expect(await rejection(client.call('broken', null))).toMatchObject({ code: 'ERR_PROTOCOL', message: expect.stringContaining('invalid JSON payload') });
      expect(await client.call('echo', 'after')).toBe('after');
      expect(client.currentSession).toBe(session);
    } finally {
      await client.close(1000);
      await fake.close();
    }
  });
});
