import type net from 'node:net';
import type { Subscribable } from '../../src/rpc/index.js';
import { deferred, nextTurn, within } from '../helpers/async.js';
import { rejection } from '../helpers/errors.js';
import { STREAM_WINDOW } from '../../src/rpc/wire/flow-control.js';
import { rpcPair } from './support.js';

const KiB = 1024;
const ITEMS = 100_000;
/** Makes each encoded item about 100 bytes. */
const PAD = 'x'.repeat(72);
const limits = { highWaterMark: 64 * KiB, maxQueuedBytes: 1024 * KiB };
/** Default flushBytes: a tick's batch may reach this before it is handed to the socket. */
const FLUSH_BYTES = 128 * KiB;

interface Item {
  i: number;
  pad: string;
}

/** The one server-side socket of `sockets`, once accepted. */
function onlySocket(sockets: readonly net.Socket[]): net.Socket {
  expect(sockets).toHaveLength(1);
  return sockets[0] as net.Socket;
}

/** Runs `items` (100,000 items) to a reader that yields the event loop every 50 items. */
async function slowRead(unixSocket: boolean): Promise<{ consumed: number; maxLag: number; maxQueued: number; sawClientPaused: boolean }> {
  let produced = 0;
  const { client, serverSockets, dispose } = await rpcPair(
    (server) =>
      server.handle('items', async function* () {
        for (let i = 0; i < ITEMS; i++) {
          produced++;
          yield { i, pad: PAD };
        }
      }),
    { server: { limits }, client: { limits, streamHighWaterMark: 64 }, unixSocket },
  );
  try {
    await client.connect();
    let consumed = 0;
    let maxLag = 0;
    let maxQueued = 0;
    let sawClientPaused = false;
    for await (const item of client.stream<Item>('items', null)) {
      if (item.i !== consumed) throw new Error(`item ${item.i} arrived where ${consumed} was due`);
      consumed++;
      maxLag = Math.max(maxLag, produced - consumed);
      if (consumed % 50 === 0) {
        await nextTurn();
        // The server's queue is its socket's buffer: the batch is handed over on every tick.
        maxQueued = Math.max(maxQueued, onlySocket(serverSockets).writableLength);
        sawClientPaused ||= client.currentSession?.conn.readingPaused === true;
      }
    }
    return { consumed, maxLag, maxQueued, sawClientPaused };
  } finally {
    await dispose();
  }
}

describe('backpressure', () => {
  it('a pulled stream to a slow reader: every item arrives in order, the client pauses reading, the server queue stays under its cap', async () => {
    const { consumed, maxLag, maxQueued, sawClientPaused } = await slowRead(false);

    expect(consumed).toBe(ITEMS);
    // The stream's mark (64) is below its credit window: past it the client stopped reading,
    // the memory safety net, and TCP pushed back on the server.
    expect(sawClientPaused).toBe(true);
    // The producer waited for credit (and for drain): never more than the window ahead of the
    // reader, and the server queue never reached its cap (past maxQueuedBytes a send fails and
    // the connection is destroyed).
    expect(maxLag).toBeLessThanOrEqual(STREAM_WINDOW + 1);
    expect(maxQueued).toBeLessThan(limits.highWaterMark + FLUSH_BYTES);
  });

  // Guards `resumeReading` resuming the socket only once the frame reader's backlog is
  // delivered: resumed first, each pause/resume cycle let one more socket chunk (~650 items)
  // in while ~32 left, and the client ended up ~89,000 items ahead (~8 MB). Over a Unix
  // socket, because loopback TCP's kernel buffers grow to megabytes and would hide the lag.
  it('a pulled stream to a slow reader: the producer stays a bounded distance ahead of the reader', async () => {
    const { consumed, maxLag } = await slowRead(true);

    expect(consumed).toBe(ITEMS);
    // In flight: the server queue (64 KiB), the kernel socket buffer (~200 KiB), the client
    // socket's read buffer and the stream's 64 items; about 4,000 items of ~100 bytes.
    expect(maxLag).toBeLessThan(ITEMS / 10);
  });

  it('a push source flooding a client that does not read fails with ERR_SLOW_CONSUMER and is unsubscribed', async () => {
    const unsubscribed = deferred();
    let emitted = 0;
    const flood: Subscribable<Item> = {
      subscribe(observer) {
        // Synchronous, like an rxjs `from(array)`: it cannot be stopped before subscribe returns.
        for (let i = 0; i < ITEMS; i++) {
          emitted++;
          observer.next({ i, pad: PAD });
        }
        observer.complete();
        return { unsubscribe: () => unsubscribed.resolve() };
      },
    };
    const maxBufferedItems = 1000;
    const { client, dispose } = await rpcPair((server) => server.handle('flood', () => flood), {
      server: { limits, maxBufferedItems },
      client: { streamHighWaterMark: 64 },
    });
    try {
      const stream = client.stream<Item>('flood', null);
      // Nothing reads the stream while the server produces.
      await within(unsubscribed.promise, 5000, 'the push source to be unsubscribed');
      expect(emitted).toBe(ITEMS);

      const received: number[] = [];
      const err = await rejection(
        (async () => {
          for await (const item of stream) received.push(item.i);
        })(),
      );
      expect(err).toMatchObject({ code: 'ERR_REMOTE', remoteCode: 'ERR_SLOW_CONSUMER' });
      // What did arrive is an in-order prefix, bounded by the queue plus the buffered items.
      expect(received).toEqual(received.map((_, index) => index));
      expect(received.length).toBeLessThan(ITEMS / 10);
      // The connection survived: the slow consumer failed one call, not the connection.
      expect(await client.ping()).toEqual(expect.any(Number));
    } finally {
      await dispose();
    }
  });
});
