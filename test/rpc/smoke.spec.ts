import { RpcClient, RpcServer } from '../../src/rpc/index.js';

describe('rpc smoke', () => {
  it('unary, stream, error, event, cancel', async () => {
    const server = new RpcServer();
    let eventSeen: unknown;
    let aborted!: () => void;
    const abortSeen = new Promise<void>((r) => (aborted = r));
    server
      .handle('sum', (data) => (data as number[]).reduce((a, b) => a + b, 0))
      .handle('count', async function* (data) {
        for (let i = 0; i < (data as number); i++) yield i;
      })
      .handle('fail', () => {
        throw new Error('nope');
      })
      .handle('hang', (_data, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => { aborted(); resolve(null); })))
      .handleEvent('note', (data) => {
        eventSeen = data;
      });
    await server.listen();
    const client = new RpcClient({ port: server.port });
    expect(await client.call('sum', [1, 2, 3])).toBe(6);
    const items: unknown[] = [];
    for await (const item of client.stream('count', 5)) items.push(item);
    expect(items).toEqual([0, 1, 2, 3, 4]);
    await expect(client.call('fail', null)).rejects.toMatchObject({ code: 'ERR_REMOTE', message: 'nope' });
    await expect(client.call('missing', null)).rejects.toMatchObject({ code: 'ERR_REMOTE', remoteCode: 'ERR_NO_HANDLER' });
    const controller = new AbortController();
    const hanging = client.call('hang', null, { signal: controller.signal });
    setImmediate(() => controller.abort());
    await expect(hanging).rejects.toMatchObject({ code: 'ERR_CANCELLED' });
    await abortSeen;
    await client.sendEvent('note', { a: 1 });
    expect(await client.call('sum', [1])).toBe(1);
    expect(eventSeen).toEqual({ a: 1 });
    await client.close();
    await server.close();
  });
});
