import type { CallContext, RpcServer, Subscribable } from '../../src/rpc/index.js';
import { ControlCode } from '../../src/rpc/index.js';
import { latch, turnsFor, within } from '../helpers/async.js';
import { rejection } from '../helpers/errors.js';
import { frameClient, rpcPair } from './support.js';

const CAP = 8;
const FEEDS = 20;

/** A feed that ticks every 5 ms and ends only when its subscriber goes (like the README's `interval(20)` feed). */
function feeds(server: RpcServer, onStart: () => void, onStop: () => void): void {
  server.handle('feed', (): Subscribable<number> => ({
    subscribe(observer) {
      onStart();
      let tick = 0;
      const timer = setInterval(() => observer.next(tick++), 5);
      return {
        unsubscribe: () => {
          clearInterval(timer);
          onStop();
        },
      };
    },
  }));
  server.handle('echo', (data) => data);
}

/** The first `n` items of a stream, then leaves the loop (which cancels the call): the client's `take(n)`. */
async function take(stream: AsyncIterable<number>, n: number): Promise<number[]> {
  const items: number[] = [];
  for await (const item of stream) {
    items.push(item);
    if (items.length === n) break;
  }
  return items;
}

describe('the concurrency cap: the server stops starting calls, not reading', () => {
  it(`${FEEDS} feeds that end only when cancelled, at a cap of ${CAP}: all settle, and later calls work`, async () => {
    let running = 0;
    let maxRunning = 0;
    const stopped = latch(FEEDS);
    const { client, dispose } = await rpcPair(
      (server) =>
        feeds(
          server,
          () => (maxRunning = Math.max(maxRunning, ++running)),
          () => {
            running--;
            stopped.hit();
          },
        ),
      { server: { maxConcurrentCalls: CAP } },
    );
    try {
      const results = await within(Promise.all(Array.from({ length: FEEDS }, () => take(client.stream<number>('feed', null), 3))), 10_000, 'every feed to give 3 items');
      expect(results).toEqual(Array.from({ length: FEEDS }, () => [0, 1, 2]));
      await within(stopped.done, 5000, 'every feed to be unsubscribed on the server');
      expect(maxRunning).toBe(CAP);
      expect(await within(client.call('echo', 'after'), 5000, 'a later call')).toBe('after');
    } finally {
      await dispose();
    }
  });

  it('a peer that disconnects at the cap is noticed: the signals of its handlers abort', async () => {
    const started = latch(CAP);
    const aborted = latch(CAP);
    let handlers = 0;
    const { client, dispose } = await rpcPair(
      (server) =>
        server.handle('poll', (_data, context: CallContext) => {
          handlers++;
          started.hit();
          context.signal.addEventListener('abort', () => aborted.hit());
          // A long poll: writes nothing until it is answered, which it never is.
          return new Promise(() => {});
        }),
      { server: { maxConcurrentCalls: CAP } },
    );
    try {
      // Requests past the cap with 8 MiB behind them: more than socket buffers hold, so a server
      // that stopped reading at the cap would never reach the FIN behind them.
      const pad = 'x'.repeat(1024 * 1024);
      const calls = Array.from({ length: CAP + 8 }, (_, i) => client.call('poll', i < CAP ? null : pad).catch(() => undefined));
      await within(started.done, 5000, 'the server to start as many calls as its cap');
      client.destroy();
      await Promise.all(calls);
      await within(aborted.done, 5000, 'the handlers of the vanished peer to be aborted');
      // The requests that waited for a slot never started.
      expect(handlers).toBe(CAP);
    } finally {
      await dispose();
    }
  });

  it('past the bytes that may wait, a request fails at once with ERR_TOO_MANY_CALLS naming the cap, and the connection recovers', async () => {
    const release: (() => void)[] = [];
    const { client, dispose } = await rpcPair(
      (s) => {
        s.handle('hold', () => new Promise((resolve) => release.push(() => resolve('held'))));
        s.handle('echo', (data) => data);
      },
      { server: { maxConcurrentCalls: 2, maxQueuedRequestBytes: 100 } },
    );
    try {
      await client.connect();
      const held = [client.call('hold', null), client.call('hold', null)];
      // 48 bytes each (json codec: 10-byte envelope, pattern 'echo' in 6, a 30-character JSON string in 32):
      // two fit in the 100 bytes that may wait, the third does not.
      const pad = (n: number): string => `${n}`.padEnd(30, 'x');
      const waiting = [client.call('echo', pad(1)), client.call('echo', pad(2))];
      const refused = await within(rejection(client.call('echo', pad(3))), 5000, 'the refusal');
      expect(refused).toMatchObject({ code: 'ERR_REMOTE', remoteCode: 'ERR_TOO_MANY_CALLS' });
      expect((refused as Error).message).toMatch(/2 running \(maxConcurrentCalls\).*100 bytes/);
      for (const resolve of release.splice(0)) resolve();
      expect(await Promise.all(held)).toEqual(['held', 'held']);
      expect(await Promise.all(waiting)).toEqual([pad(1), pad(2)]);
      expect(await client.call('echo', 'again')).toBe('again');
    } finally {
      await dispose();
    }
  });

  it('a request cancelled while it waits for a slot never starts, and one whose budget ran out while waiting fails with ERR_DEADLINE_EXCEEDED', async () => {
    const release: (() => void)[] = [];
    let echoes = 0;
    const { port, dispose } = await rpcPair(
      (s) => {
        s.handle('hold', () => new Promise((resolve) => release.push(() => resolve('held'))));
        s.handle('echo', (data) => {
          echoes++;
          return data;
        });
      },
      { server: { maxConcurrentCalls: 1 } },
    );
    const { conn, inbox } = await frameClient(port);
    try {
      conn.send({ id: 1, code: ControlCode.Normal, pattern: 'hold' });
      conn.send({ id: 2, code: ControlCode.Normal, pattern: 'echo', data: 'cancelled' });
      conn.send({ id: 3, code: ControlCode.Normal, pattern: 'echo', data: 'late', timeoutMs: 1 });
      conn.send({ id: 4, code: ControlCode.Normal, pattern: 'echo', data: 'served' });
      conn.send({ id: 2, code: ControlCode.Cancel });
      // A Ping behind the waiting requests is answered at once: the server still reads.
      conn.send({ id: 9, code: ControlCode.Ping });
      await within(inbox.next((frame) => frame.code === ControlCode.Pong), 5000, 'the Pong');
      // Let request 3's 1 ms budget pass while it waits.
      await turnsFor(20);
      for (const resolve of release.splice(0)) resolve();
      expect(await within(inbox.next((frame) => frame.id === 1), 5000, 'reply 1')).toMatchObject({ code: ControlCode.Reply, data: 'held' });
      expect(await within(inbox.next((frame) => frame.id === 3), 5000, 'reply 3')).toMatchObject({
        code: ControlCode.Error,
        data: { code: 'ERR_DEADLINE_EXCEEDED' },
      });
      expect(await within(inbox.next((frame) => frame.id === 4), 5000, 'reply 4')).toMatchObject({ code: ControlCode.Reply, data: 'served' });
      expect(inbox.frames.filter((frame) => frame.id === 2)).toEqual([]);
      expect(echoes).toBe(1);
    } finally {
      conn.destroy();
      await dispose();
    }
  });
});
