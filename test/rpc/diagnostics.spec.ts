import diagnosticsChannel from 'node:diagnostics_channel';
import type { ConnectionCloseMessage, ConnectionOpenMessage, FrameErrorMessage } from '../../src/core/index.js';
import { type CallEndMessage, type CallStartMessage, type ClientCallStartMessage, DeadlineExceededError } from '../../src/rpc/index.js';
import { deferred, within } from '../helpers/async.js';
import { ChannelRecorder } from '../helpers/channels.js';
import { Cleanup } from '../helpers/cleanup.js';
import { rawPeer, whenClosed } from '../helpers/net.js';
import { rpcPair } from './support.js';

/** The diagnostics channels as a subscriber sees them: names, message shapes, one end per call. */
describe('diagnostics channels', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  function record<M>(name: string): ChannelRecorder<M> {
    const recorder = new ChannelRecorder<M>(name);
    cleanup.add(() => recorder.dispose());
    return recorder;
  }

  async function pair(setup: Parameters<typeof rpcPair>[0], options?: Parameters<typeof rpcPair>[1]) {
    const created = await rpcPair(setup, options);
    cleanup.add(() => created.dispose());
    return created;
  }

  const endOf = (side: 'client' | 'server', pattern: string) => (m: CallEndMessage) => m.side === side && m.start.pattern === pattern;

  it('publishes nothing and builds nothing while no one subscribes', async () => {
    for (const name of ['protosocket:connection:open', 'protosocket:connection:close', 'protosocket:frame:error', 'protosocket:call:start', 'protosocket:call:end']) {
      expect(diagnosticsChannel.channel(name).hasSubscribers).toBe(false);
    }
    const { client } = await pair((server) => server.handle('echo', (data) => data));
    await expect(client.call('echo', 1)).resolves.toBe(1);
  });

  it('connection:open and connection:close, with the side and, for a clean close, no code', async () => {
    const opened = record<ConnectionOpenMessage>('protosocket:connection:open');
    const closed = record<ConnectionCloseMessage>('protosocket:connection:close');
    const { client } = await pair((server) => server.handle('echo', (data) => data));
    await client.call('echo', 1);
    const clientOpen = await opened.next((m) => m.side === 'client');
    const serverOpen = await opened.next((m) => m.side === 'server');
    expect(clientOpen.connection.remotePort).toBeGreaterThan(0);
    await client.close();
    const clientClose = await closed.next((m) => m.connection === clientOpen.connection);
    expect(clientClose).toMatchObject({ reason: undefined, code: undefined });
    expect(clientClose.connection.framesSent).toBe(1);
    expect(clientClose.connection.framesReceived).toBe(1);
    expect(clientClose.connection.bytesSent).toBeGreaterThan(0);
    await closed.next((m) => m.connection === serverOpen.connection);
  });

  it('a unary call: start and end on both sides, the end carrying its start, outcome and one item', async () => {
    const starts = record<CallStartMessage>('protosocket:call:start');
    const ends = record<CallEndMessage>('protosocket:call:end');
    const { client } = await pair((server) => server.handle('echo', (data) => data));
    await client.call('echo', { a: 1 }, { timeoutMs: 5000, meta: { user: 'u' } });
    const clientEnd = await ends.next(endOf('client', 'echo'));
    const serverEnd = await ends.next(endOf('server', 'echo'));
    expect(clientEnd).toMatchObject({ outcome: 'ok', error: undefined, errorCode: undefined, items: 1 });
    expect(serverEnd).toMatchObject({ outcome: 'ok', items: 1 });
    expect(clientEnd.durationMs).toBeGreaterThanOrEqual(serverEnd.durationMs);
    expect(starts.messages).toContain(clientEnd.start);
    expect(starts.messages).toContain(serverEnd.start);
    expect(clientEnd.start).toMatchObject({ side: 'client', pattern: 'echo', timeoutMs: 5000, meta: { user: 'u' } });
    expect(serverEnd.start).toMatchObject({ side: 'server', pattern: 'echo', meta: { user: 'u' } });
    expect(serverEnd.start.id).toBe(clientEnd.start.id);
  });

  it('a client subscriber may replace the request metadata (the caller object stays untouched); the server sees it', async () => {
    const add = (message: unknown): void => {
      const start = message as CallStartMessage;
      if (start.side === 'client') (start as ClientCallStartMessage).meta = { ...start.meta, added: 'yes' };
    };
    diagnosticsChannel.subscribe('protosocket:call:start', add);
    cleanup.add(() => diagnosticsChannel.unsubscribe('protosocket:call:start', add));
    const { client } = await pair((server) => server.handle('meta', (_data, context) => context.meta));
    const meta = { own: 'x' };
    await expect(client.call('meta', null, { meta })).resolves.toEqual({ own: 'x', added: 'yes' });
    expect(meta).toEqual({ own: 'x' });
  });

  it('a server subscriber may run the handler in its own context', async () => {
    const wrap = (message: unknown): void => {
      const start = message as CallStartMessage;
      if (start.side === 'server') start.runInContext = (run) => scope.run('inside', run);
    };
    const { AsyncLocalStorage } = await import('node:async_hooks');
    const scope = new AsyncLocalStorage<string>();
    diagnosticsChannel.subscribe('protosocket:call:start', wrap);
    cleanup.add(() => diagnosticsChannel.unsubscribe('protosocket:call:start', wrap));
    const { client } = await pair((server) =>
      server.handle('where', async () => {
        await Promise.resolve();
        return scope.getStore() ?? 'outside';
      }),
    );
    await expect(client.call('where', null)).resolves.toBe('inside');
  });

  it('a stream counts its items on both sides', async () => {
    const ends = record<CallEndMessage>('protosocket:call:end');
    const { client } = await pair((server) =>
      server.handle('count', async function* () {
        yield 1;
        yield 2;
        yield 3;
      }),
    );
    const items: unknown[] = [];
    for await (const item of client.stream('count', null)) items.push(item);
    expect(items).toEqual([1, 2, 3]);
    expect(await ends.next(endOf('client', 'count'))).toMatchObject({ outcome: 'ok', items: 3 });
    expect(await ends.next(endOf('server', 'count'))).toMatchObject({ outcome: 'ok', items: 3 });
  });

  it('an error reply: outcome error, the thrown error on the server, the remote code on the client', async () => {
    const ends = record<CallEndMessage>('protosocket:call:end');
    const thrown = Object.assign(new Error('nope'), { code: 'E_NOPE' });
    const { client } = await pair((server) =>
      server.handle('fail', () => {
        throw thrown;
      }),
    );
    await expect(client.call('fail', null)).rejects.toMatchObject({ code: 'ERR_REMOTE' });
    expect(await ends.next(endOf('client', 'fail'))).toMatchObject({ outcome: 'error', errorCode: 'E_NOPE', items: 0 });
    expect(await ends.next(endOf('server', 'fail'))).toMatchObject({ outcome: 'error', error: thrown, errorCode: 'E_NOPE' });
  });

  it('a cancelled call ends cancelled on both sides', async () => {
    const ends = record<CallEndMessage>('protosocket:call:end');
    const started = deferred();
    const { client } = await pair((server) =>
      server.handle('hang', (_data, context) => {
        started.resolve();
        return new Promise((resolve) => context.signal.addEventListener('abort', resolve));
      }),
    );
    const controller = new AbortController();
    const call = client.call('hang', null, { signal: controller.signal });
    await started.promise;
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: 'ERR_CANCELLED' });
    expect(await ends.next(endOf('client', 'hang'))).toMatchObject({ outcome: 'cancelled', errorCode: 'ERR_CANCELLED' });
    expect(await within(ends.next(endOf('server', 'hang')), 5000, 'server end')).toMatchObject({ outcome: 'cancelled', errorCode: 'ERR_CANCELLED' });
  });

  it('a passed deadline ends deadline_exceeded on both sides', async () => {
    const ends = record<CallEndMessage>('protosocket:call:end');
    const { client } = await pair((server) => server.handle('slow', (_data, context) => new Promise((resolve) => context.signal.addEventListener('abort', resolve))));
    await expect(client.call('slow', null, { timeoutMs: 20 })).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(await ends.next(endOf('client', 'slow'))).toMatchObject({ outcome: 'deadline_exceeded', errorCode: 'ERR_DEADLINE_EXCEEDED' });
    expect(await within(ends.next(endOf('server', 'slow')), 5000, 'server end')).toMatchObject({ outcome: 'deadline_exceeded' });
  });

  it('frame:error for a peer that breaks the framing, then connection:close with its code', async () => {
    const errors = record<FrameErrorMessage>('protosocket:frame:error');
    const closed = record<ConnectionCloseMessage>('protosocket:connection:close');
    const { port } = await pair(() => {}, { server: { limits: { maxFrameBytes: 1024 } } });
    const peer = await rawPeer(port);
    cleanup.add(() => peer.destroy());
    peer.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    const error = await errors.next();
    expect(error.code).toBe('ERR_FRAME_TOO_LARGE');
    const close = await closed.next((m) => m.connection === error.connection);
    expect(close.code).toBe('ERR_FRAME_TOO_LARGE');
    await whenClosed(peer);
  });
});
