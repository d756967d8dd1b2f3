import { ConnectionClosedError } from '../../src/core/index.js';
import { CancelledError, DeadlineExceededError, RemoteError, RpcClient, UnsupportedByProfileError } from '../../src/rpc/index.js';
import { ProtosocketClient } from '../../src/nest/index.js';
import { firstValueFrom, take, toArray } from 'rxjs';
import { CODECS, PeerProcess, whenStill } from './peer-process.js';

/**
 * RpcClient and ProtosocketClient with `protocol: 'protosocket-rpc'` against a stock
 * protosocket-rpc 2.0.2 server (test/interop/peer, server mode), with each stock codec.
 */
describe.each(CODECS)('RpcClient -> Rust protosocket-rpc server ($rust)', ({ rust, codec }) => {
  let peer: PeerProcess;
  let port: number;
  let client: RpcClient;
  const closers: (() => Promise<unknown>)[] = [];

  beforeEach(async () => {
    ({ peer, port } = await PeerProcess.server(rust));
    client = new RpcClient({ host: '127.0.0.1', port, codec, protocol: 'protosocket-rpc', closeTimeoutMs: 200, reconnect: false });
  });

  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    await client.close();
    await peer.stop();
  });

  /** The peer's `request` line for the call with this id. */
  function request(id: number) {
    return peer.waitFor((line) => line.event === 'request' && (line.frame as { id?: number }).id === id, `request ${id}`);
  }

  it('unary: call() settles on the one Normal of a Rust unary rpc', async () => {
    await expect(client.call('echo', { hello: 'world', n: [1, 2.5, -3], big: 2 ** 40 })).resolves.toEqual({ hello: 'world', n: [1, 2.5, -3], big: 2 ** 40 });
  });

  it('a 200 KiB payload both ways', async () => {
    const big = await client.call<Buffer>('big', undefined);
    expect(big.length).toBe(200 * 1024);
    const bytes = Buffer.alloc(200 * 1024, 9);
    expect(Buffer.compare(await client.call<Buffer>('echo', bytes), bytes)).toBe(0);
  });

  it('a stream of 10,000 items to a slow consumer: the Rust producer is held back, then every item arrives in order', async () => {
    const stream = client.stream<{ i: number }>('stream', { n: 10_000, pad: 2000 });
    const first = await stream.next();
    expect(first.value).toMatchObject({ i: 0 });
    const produced = () => {
      const counts = peer.lines.filter((line) => line.event === 'produced').map((line) => Number(line.n));
      return counts.length === 0 ? 0 : Math.max(...counts);
    };
    // protosocket-rpc's server pulls the stream only while its outbound queue has room; our
    // client stops reading once its buffer is full, so TCP fills up and the Rust stream waits.
    const producedWhileStalled = await whenStill(produced, 300);
    expect(producedWhileStalled).toBeLessThan(10_000);
    let expected = 1;
    for await (const item of stream) {
      expect(item.i).toBe(expected);
      expected++;
    }
    expect(expected).toBe(10_000);
  });

  it('streams of one and of many items end with the End', async () => {
    const collect = async (n: number) => {
      const items: unknown[] = [];
      for await (const item of client.stream('stream', n)) items.push(item);
      return items;
    };
    await expect(collect(1)).resolves.toEqual([0]);
    await expect(collect(5)).resolves.toEqual([0, 1, 2, 3, 4]);
    await expect(collect(0)).resolves.toEqual([]);
  });

  it('call() of a Rust streaming rpc settles on its first item, as send_unary does', async () => {
    await expect(client.call('stream', 3)).resolves.toBe(0);
  });

  it('cancel from our side: the Rust rpc is dropped, and its echo Cancel is ignored', async () => {
    const controller = new AbortController();
    const call = client.call('wait-cancel', undefined, { signal: controller.signal });
    await peer.waitFor((line) => line.event === 'request' && (line.frame as { pattern?: string }).pattern === 'wait-cancel', 'the rpc to start');
    controller.abort();
    await expect(call).rejects.toBeInstanceOf(CancelledError);
    await peer.waitFor((line) => line.event === 'cancelled' && line.pattern === 'wait-cancel', 'the Rust rpc to be cancelled');
    await expect(client.call('echo', 'still here')).resolves.toBe('still here');
  });

  it('cancel of a stream from our side (leaving the loop) drops the Rust stream', async () => {
    const items: unknown[] = [];
    for await (const item of client.stream('ticker', undefined)) {
      items.push(item);
      if (items.length === 3) break;
    }
    expect(items).toEqual([0, 1, 2]);
    await peer.waitFor((line) => line.event === 'cancelled' && line.pattern === 'ticker', 'the Rust stream to be cancelled');
  });

  it('a handler error (a Normal carrying the error) is a RemoteError with the body', async () => {
    const failure = await client.call('error', undefined).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(RemoteError);
    expect((failure as RemoteError).body).toEqual({ code: 'ERR_PEER_TEST', message: 'the error rpc always fails' });
  });

  it('an unknown pattern: the Rust server cancels (RpcKind::Cancelled), a CancelledError for the caller', async () => {
    const failure = await client.call('nope', undefined).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(CancelledError);
    expect((failure as Error).message).toBe('call cancelled by the server');
  });

  it('a deadline from our side: DeadlineExceededError, and the Rust rpc is cancelled', async () => {
    const failure = await client.call('wait-cancel', undefined, { timeoutMs: 200 }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(DeadlineExceededError);
    const started = peer.lines.find((line) => line.event === 'request' && (line.frame as { pattern?: string }).pattern === 'wait-cancel');
    expect(started?.frame).toMatchObject({ timeoutMs: 200 });
    await peer.waitFor((line) => line.event === 'cancelled' && line.pattern === 'wait-cancel', 'the Rust rpc to be cancelled');
  });

  it('server shutdown with a call in flight: ERR_CONNECTION_CLOSED', async () => {
    const call = client.call('wait-cancel', undefined).catch((err: unknown) => err);
    await peer.waitFor((line) => line.event === 'request' && (line.frame as { pattern?: string }).pattern === 'wait-cancel', 'the rpc to start');
    await peer.stop();
    expect(await call).toBeInstanceOf(ConnectionClosedError);
  });

  it('ids above 2^32: the Rust server answers on them', async () => {
    await client.connect();
    const first = 2 ** 32 + 7;
    client.currentSession!.nextCallId = first;
    await expect(client.call('echo', 'high')).resolves.toBe('high');
    await expect(client.call('echo', 'higher')).resolves.toBe('higher');
    expect((await request(first)).frame).toMatchObject({ id: first, pattern: 'echo' });
    expect((await request(first + 1)).frame).toMatchObject({ id: first + 1 });
  });

  it('no Ping and no events towards a protosocket-rpc server', async () => {
    await expect(client.ping()).rejects.toBeInstanceOf(UnsupportedByProfileError);
    await expect(client.sendEvent('echo', 1)).rejects.toBeInstanceOf(UnsupportedByProfileError);
    await expect(client.call('echo', 'alive')).resolves.toBe('alive');
  });

  it('Nest ProtosocketClient: send() is unary; { stream: true } and streamingPatterns stream', async () => {
    const nest = new ProtosocketClient({ host: '127.0.0.1', port, codec, protocol: 'protosocket-rpc', closeTimeoutMs: 200, streamingPatterns: ['stream'] });
    closers.push(() => nest.close());
    await expect(firstValueFrom(nest.send('echo', { a: 1 }).pipe(toArray()))).resolves.toEqual([{ a: 1 }]);
    await expect(firstValueFrom(nest.send('stream', 3).pipe(toArray()))).resolves.toEqual([0, 1, 2]);
    await expect(firstValueFrom(nest.send('stream', 3, { stream: false }).pipe(toArray()))).resolves.toEqual([0]);
    await expect(firstValueFrom(nest.send('ticker', 0, { stream: true }).pipe(take(3), toArray()))).resolves.toEqual([0, 1, 2]);
    await peer.waitFor((line) => line.event === 'cancelled' && line.pattern === 'ticker', 'the unsubscribed stream to be cancelled');
    await expect(firstValueFrom(nest.emit('note', 1))).rejects.toBeInstanceOf(UnsupportedByProfileError);
  });
});
