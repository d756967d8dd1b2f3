import diagnosticsChannel from 'node:diagnostics_channel';
import { of } from 'rxjs';
import { connect, listen } from '../../src/core/index.js';
import {
  CancelledError,
  ControlCode,
  RemoteError,
  RpcClient,
  RpcServer,
  UnsupportedByProfileError,
  type RpcFrame,
} from '../../src/rpc/index.js';
import { msgpackCodec } from '../../src/rpc/wire/msgpack-codec.js';
import { codecFor, profileOf } from '../../src/rpc/wire/profile.js';
import { protobufCodec } from '../../src/rpc/wire/protobuf-codec.js';
import { deferred } from '../helpers/async.js';
import { Cleanup } from '../helpers/cleanup.js';
import { FrameInbox, rpcPair } from './support.js';

/**
 * The protosocket-rpc profile between two Node peers, and its frames as a protosocket-rpc peer
 * sees them (a hand-driven connection with the profile's msgpack form). test/interop runs the
 * same conversations against the real Rust crates.
 */
const PROFILE = { codec: msgpackCodec, protocol: 'protosocket-rpc' } as const;
const wire = codecFor(msgpackCodec, profileOf('protosocket-rpc'));

describe('protosocket-rpc profile', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  async function serve(setup: (server: RpcServer) => void): Promise<number> {
    const server = new RpcServer({ ...PROFILE, drainTimeoutMs: 100 });
    setup(server);
    await server.listen();
    cleanup.add(() => server.close(100));
    return server.port as number;
  }

  /** A connection that sends and sees frames as they are on the wire under the profile. */
  async function rawPeer(port: number): Promise<{ send(frame: RpcFrame): void; inbox: FrameInbox }> {
    const inbox = new FrameInbox();
    const conn = await connect<RpcFrame, RpcFrame>({ ...wire, port, reactor: inbox.reactor });
    cleanup.add(() => conn.destroy());
    return { send: (frame) => conn.send(frame), inbox };
  }

  it('a value is one Normal; an Observable of one value is Normal then End (no Reply)', async () => {
    const port = await serve((server) => {
      server.handle('value', () => 7);
      server.handle('one', () => of(8));
    });
    const peer = await rawPeer(port);
    peer.send({ id: 1, code: ControlCode.Normal, pattern: 'value' });
    peer.send({ id: 2, code: ControlCode.Normal, pattern: 'one' });
    expect(await peer.inbox.next((frame) => frame.id === 1)).toMatchObject({ code: ControlCode.Normal, data: 7 });
    expect(await peer.inbox.next((frame) => frame.id === 2)).toMatchObject({ code: ControlCode.Normal, data: 8 });
    expect(await peer.inbox.next((frame) => frame.id === 2)).toMatchObject({ code: ControlCode.End });
    // Nothing more came for the unary call: its one Normal was all.
    peer.send({ id: 3, code: ControlCode.Normal, pattern: 'value' });
    await peer.inbox.next((frame) => frame.id === 3);
    expect(peer.inbox.frames.filter((frame) => frame.id === 1)).toEqual([]);
  });

  it('an Observable of one value stays a stream while the call channels are watched', async () => {
    // Observed calls stand between the call and its connection: they must pass the profile on.
    const watch = (): void => {};
    diagnosticsChannel.subscribe('protosocket:call:start', watch);
    cleanup.add(() => diagnosticsChannel.unsubscribe('protosocket:call:start', watch));
    const port = await serve((server) => server.handle('one', () => of(8)));
    const peer = await rawPeer(port);
    peer.send({ id: 1, code: ControlCode.Normal, pattern: 'one' });
    expect(await peer.inbox.next((frame) => frame.id === 1)).toMatchObject({ code: ControlCode.Normal, data: 8 });
    expect(await peer.inbox.next((frame) => frame.id === 1)).toMatchObject({ code: ControlCode.End });
  });

  it('an error, a missing handler, and an event pattern called as a request', async () => {
    const noted = deferred<unknown>();
    const port = await serve((server) => {
      server.handle('fail', () => {
        throw new Error('boom');
      });
      server.handleEvent('note', (data) => noted.resolve(data));
    });
    const peer = await rawPeer(port);
    peer.send({ id: 1, code: ControlCode.Normal, pattern: 'fail' });
    peer.send({ id: 2, code: ControlCode.Normal, pattern: 'nope' });
    peer.send({ id: 3, code: ControlCode.Normal, pattern: 'note', data: 'hi' });
    expect(await peer.inbox.next((frame) => frame.id === 1)).toMatchObject({ code: ControlCode.Error, data: { message: 'boom' } });
    expect(await peer.inbox.next((frame) => frame.id === 1)).toMatchObject({ code: ControlCode.End });
    expect(await peer.inbox.next((frame) => frame.id === 2)).toMatchObject({ code: ControlCode.Error, data: { code: 'ERR_NO_HANDLER' } });
    expect(await peer.inbox.next((frame) => frame.id === 3)).toStrictEqual({ id: 3, code: ControlCode.Normal, pattern: undefined, data: undefined, timeoutMs: undefined, meta: undefined });
    expect(await noted.promise).toBe('hi');
  });

  it('a request that is not our envelope (no pattern) closes the connection', async () => {
    const port = await serve(() => {});
    const peer = await rawPeer(port);
    peer.send({ id: 1, code: ControlCode.Normal });
    await expect(peer.inbox.closed).resolves.toBeUndefined();
  });

  it('shutdown: no GoAway; the call in flight fails with ERR_SHUTTING_DOWN', async () => {
    const started = deferred();
    const server = new RpcServer({ ...PROFILE });
    server.handle('wait', () => {
      started.resolve();
      return new Promise(() => {});
    });
    await server.listen();
    const peer = await rawPeer(server.port as number);
    peer.send({ id: 1, code: ControlCode.Normal, pattern: 'wait' });
    await started.promise;
    await server.close(50);
    expect(await peer.inbox.next((frame) => frame.id === 1)).toMatchObject({ code: ControlCode.Error, data: { code: 'ERR_SHUTTING_DOWN' } });
    expect(peer.inbox.frames.some((frame) => frame.code === ControlCode.GoAway)).toBe(false);
  });

  describe.each([
    ['msgpack', msgpackCodec],
    ['protobuf', protobufCodec],
  ])('client and server, %s', (_name, codec) => {
    async function pair(setup: (server: RpcServer) => void): Promise<RpcClient> {
      const { client, dispose } = await rpcPair(setup, {
        server: { codec, protocol: 'protosocket-rpc' },
        client: { codec, protocol: 'protosocket-rpc', reconnect: false },
      });
      cleanup.add(dispose);
      return client;
    }

    it('call() is unary, stream() streams, whatever the handler returns', async () => {
      const client = await pair((server) => {
        server.handle('one', () => of('a'));
        server.handle('three', () => of(1, 2, 3));
        server.handle('value', () => 'v');
      });
      await expect(client.call('one', null)).resolves.toBe('a');
      await expect(client.call('three', null)).resolves.toBe(1);
      const items: unknown[] = [];
      for await (const item of client.stream('three', null)) items.push(item);
      expect(items).toEqual([1, 2, 3]);
      await expect(client.call('value', null)).resolves.toBe('v');
    });

    it('errors are RemoteErrors for unary and streaming calls; ids above 2^32 work', async () => {
      const client = await pair((server) => {
        server.handle('fail', () => Promise.reject(new Error('no')));
        server.handle('id', (_data, context) => context.id);
      });
      await expect(client.call('fail', null)).rejects.toBeInstanceOf(RemoteError);
      await expect(client.stream('fail', null).next()).rejects.toBeInstanceOf(RemoteError);
      client.currentSession!.nextCallId = 2 ** 32 + 1;
      await expect(client.call('id', null)).resolves.toBe(2 ** 32 + 1);
    });

    it('no ping, no events', async () => {
      const client = await pair(() => {});
      await expect(client.ping()).rejects.toBeInstanceOf(UnsupportedByProfileError);
      await expect(client.sendEvent('x', 1)).rejects.toBeInstanceOf(UnsupportedByProfileError);
    });
  });

  it('a server Cancel reaches the caller as a CancelledError', async () => {
    // A protosocket-rpc server's answer to a pattern it does not serve (RpcKind::Cancelled).
    const listener = await listen<RpcFrame, RpcFrame>({ ...wire, reactor: (conn) => ({ onMessage: (frame) => void conn.send({ id: frame.id, code: ControlCode.Cancel }) }) });
    const port = listener.port as number;
    cleanup.add(async () => {
      listener.destroy();
      await listener.close();
    });
    const client = new RpcClient({ port, ...PROFILE, reconnect: false });
    cleanup.add(() => client.close(100));
    const failure = await client.call('anything', null).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(CancelledError);
    expect((failure as Error).message).toBe('call cancelled by the server');
  });

  it('a codec without a protosocket-rpc form is refused up front', () => {
    expect(() => new RpcClient({ port: 1, protocol: 'protosocket-rpc' })).toThrow(UnsupportedByProfileError);
  });
});
