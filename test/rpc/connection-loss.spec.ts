import type { RpcClient } from '../../src/rpc/index.js';
import { latch, nextTurn, within } from '../helpers/async.js';
import { codeOf, rejection } from '../helpers/errors.js';
import { rpcPair, type RpcPair } from './support.js';

const UNARY_CALLS = 5;

/** How a test kills the connection while calls are running. */
const kills: [string, (pair: RpcPair) => void][] = [
  ['client.destroy()', (pair) => pair.client.destroy()],
  ['destroying the client connection', (pair) => pair.client.currentSession?.conn.destroy()],
  ['destroying the server-side socket', (pair) => pair.serverSockets.forEach((socket) => socket.destroy())],
];

/** Reads a stream until it fails; resolves with the error. */
async function streamFailure(client: RpcClient): Promise<unknown> {
  return rejection(
    (async () => {
      for await (const item of client.stream('ticks', null)) void item;
    })(),
  );
}

describe.each(kills)('killing the connection mid-call: %s', (_name, kill) => {
  it('fails every pending call with ERR_CONNECTION_CLOSED and aborts every running handler the same way', async () => {
    const handlers = UNARY_CALLS + 1;
    const started = latch(handlers);
    const aborted = latch(handlers);
    const reasons: unknown[] = [];
    const onStart = (signal: AbortSignal): void => {
      signal.addEventListener('abort', () => {
        reasons.push(signal.reason);
        aborted.hit();
      });
      started.hit();
    };
    const pair = await rpcPair(
      (server) =>
        server
          .handle('hang', (_data, ctx) => {
            onStart(ctx.signal);
            return new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          })
          .handle('ticks', async function* (_data, ctx) {
            onStart(ctx.signal);
            for (let i = 0; i < 1_000_000 && !ctx.aborted; i++) {
              yield i;
              await nextTurn();
            }
          }),
      { client: { reconnect: false } },
    );
    try {
      const unary = Array.from({ length: UNARY_CALLS }, () => rejection(pair.client.call('hang', null)));
      const stream = streamFailure(pair.client);
      await within(started.done, 2000, 'every handler to start');

      kill(pair);

      const errors = await within(Promise.all([...unary, stream]), 2000, 'every call to settle');
      for (const err of errors) expect(codeOf(err)).toBe('ERR_CONNECTION_CLOSED');
      await within(aborted.done, 2000, 'every handler to be aborted');
      expect(reasons.map(codeOf)).toEqual(Array(handlers).fill('ERR_CONNECTION_CLOSED'));
    } finally {
      await pair.dispose();
    }
  });
});

it('after a connection is lost, the next call connects again', async () => {
  const pair = await rpcPair((server) => server.handle('echo', (data) => data), { client: { reconnect: false } });
  try {
    expect(await pair.client.call('echo', 1)).toBe(1);
    pair.client.currentSession?.conn.destroy();
    await within(
      new Promise<void>((resolve) => pair.client.once('status', () => resolve())),
      2000,
      'the client to notice',
    );
    expect(pair.client.status).toBe('disconnected');
    expect(await pair.client.call('echo', 2)).toBe(2);
    expect(pair.client.status).toBe('connected');
  } finally {
    await pair.dispose();
  }
});
