import { from } from 'rxjs';
import type { RpcServer, Subscribable } from '../../src/rpc/index.js';
import { STREAM_WINDOW } from '../../src/rpc/wire/flow-control.js';
import { deferred, nextTurn, within } from '../helpers/async.js';
import { rejection } from '../helpers/errors.js';
import { MiB } from '../helpers/frames.js';
import { rpcPair } from './support.js';

/** An endless pulled stream, counting what it produced. */
function endless(server: RpcServer, produced: { count: number }): void {
  server.handle('endless', async function* () {
    for (;;) {
      produced.count++;
      yield produced.count;
    }
  });
}

describe('per-call flow control (credit)', () => {
  it('a stream nobody reads stalls only itself: another stream and a unary call on the same client proceed', async () => {
    const produced = { count: 0 };
    const { client, dispose } = await rpcPair((server) => {
      endless(server, produced);
      server.handle('echo', (data) => data);
    });
    try {
      const ignored = client.stream<number>('endless', null);
      // Start it, then never read it again.
      expect(await ignored.next()).toEqual({ value: 1, done: false });

      let read = 0;
      for await (const item of client.stream<number>('endless', null)) {
        if (++read === 20 * STREAM_WINDOW) break;
        void item;
      }
      expect(await within(client.call('echo', 'unary'), 5000, 'the unary call')).toBe('unary');
      // The connection never stopped reading: the ignored stream is held back by its credit, not by TCP.
      expect(client.currentSession?.conn.readingPaused).toBe(false);
      await ignored.return?.();
    } finally {
      await dispose();
    }
  });

  it('a pulled source is not pulled past its credit: the producer stops, the connection does not', async () => {
    const produced = { count: 0 };
    const { client, dispose } = await rpcPair((server) => endless(server, produced));
    try {
      const stream = client.stream<number>('endless', null);
      expect(await stream.next()).toEqual({ value: 1, done: false });
      // Let the server run as far as it may.
      for (let turn = 0; turn < 50; turn++) await nextTurn();
      // The window, plus the one item a pulled source may have produced before it saw the credit run out.
      expect(produced.count).toBeLessThanOrEqual(STREAM_WINDOW + 1);
      expect(produced.count).toBeGreaterThanOrEqual(STREAM_WINDOW);
      expect(client.currentSession?.conn.readingPaused).toBe(false);
      await stream.return?.();
    } finally {
      await dispose();
    }
  });

  it('a push observer (call / open) grants as it receives: a long pushed stream is never throttled', async () => {
    const { client, dispose } = await rpcPair((server) => server.handle('count', () => from(Array.from({ length: 10 * STREAM_WINDOW }, (_, i) => i))));
    try {
      let items = 0;
      const done = deferred();
      client.open<number>('count', null, { next: () => items++, error: (err) => done.reject(err), complete: () => done.resolve() });
      await within(done.promise, 10_000, 'every item');
      expect(items).toBe(10 * STREAM_WINDOW);
    } finally {
      await dispose();
    }
  });
});

describe('a synchronous Observable to a client that reads (issue 10 §1.1)', () => {
  it('1,000,000 small items all arrive, in order', async () => {
    const N = 1_000_000;
    const { client, dispose } = await rpcPair((server) => server.handle('many', () => from(Array.from({ length: N }, (_, i) => i))));
    try {
      let expected = 0;
      for await (const item of client.stream<number>('many', null)) {
        if (item !== expected) throw new Error(`item ${item} arrived where ${expected} was due`);
        expected++;
      }
      expect(expected).toBe(N);
    } finally {
      await dispose();
    }
  }, 60_000);

  it('200 MiB in 1 KiB strings all arrive', async () => {
    const item = 'x'.repeat(1024);
    const N = 200 * 1024;
    const { client, dispose } = await rpcPair((server) => server.handle('big', () => from(Array.from({ length: N }, () => item))));
    try {
      let count = 0;
      let bytes = 0;
      for await (const value of client.stream<string>('big', null)) {
        count++;
        bytes += value.length;
      }
      expect(count).toBe(N);
      expect(bytes).toBe(200 * MiB);
    } finally {
      await dispose();
    }
  }, 60_000);
});

describe('ERR_SLOW_CONSUMER: only for a client that stops reading, naming the limit', () => {
  it.each([
    ['items', { maxBufferedItems: 5000 }, /5000 stream items \(maxBufferedItems\)/],
    ['bytes', { maxBufferedBytes: 1 * MiB }, /1048576 bytes of stream items \(maxBufferedBytes\)/],
  ] as const)('past maxBuffered %s', async (_limit, server, message) => {
    const unsubscribed = deferred();
    // Pushes 100 items of ~100 bytes every millisecond, for as long as it is subscribed.
    const flood: Subscribable<{ i: number; pad: string }> = {
      subscribe(observer) {
        let i = 0;
        const timer = setInterval(() => {
          for (let n = 0; n < 100; n++) observer.next({ i: i++, pad: 'x'.repeat(100) });
        }, 1);
        return {
          unsubscribe: () => {
            clearInterval(timer);
            unsubscribed.resolve();
          },
        };
      },
    };
    const { client, dispose } = await rpcPair((s) => s.handle('flood', () => flood), { server });
    try {
      const stream = client.stream<{ i: number }>('flood', null);
      expect((await stream.next()).value).toMatchObject({ i: 0 });
      // Nothing reads the stream now, until the server has given up on it.
      await within(unsubscribed.promise, 10_000, 'the server to stop the producer');
      const err = await rejection(
        (async () => {
          for await (const value of stream) void value;
        })(),
      );
      expect(err).toMatchObject({ code: 'ERR_REMOTE', remoteCode: 'ERR_SLOW_CONSUMER' });
      expect((err as Error).message).toMatch(message);
      // One call failed; the connection goes on.
      expect(await client.ping()).toEqual(expect.any(Number));
    } finally {
      await dispose();
    }
  });
});
