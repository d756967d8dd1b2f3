import type { RpcServer } from '../../src/rpc/index.js';
import { nextTurn } from '../helpers/async.js';
import { rpcPair } from './support.js';

const CALLS = 10_000;

/** A few hops of the event loop or the microtask queue, varying with `i`, so replies come back out of order. */
async function scrambledDelay(i: number): Promise<void> {
  const hops = (i * 7919) % 4;
  for (let hop = 0; hop < hops; hop++) {
    if ((i + hop) % 2 === 0) await nextTurn();
    else await new Promise<void>((resolve) => queueMicrotask(resolve));
  }
}

/** `square` answers {i, sq: i*i} after a scrambled delay; tracks how many handlers run at once. */
function squares(server: RpcServer, stats: { running: number; maxRunning: number }): void {
  server.handle('square', async (data) => {
    const { i } = data as { i: number };
    stats.running++;
    stats.maxRunning = Math.max(stats.maxRunning, stats.running);
    try {
      await scrambledDelay(i);
      return { i, sq: i * i };
    } finally {
      stats.running--;
    }
  });
}

describe.each([
  ['the default concurrency cap', undefined, 1024],
  ['maxConcurrentCalls 64 (reads pause and resume)', 64, 64],
])('10,000 concurrent calls on one connection, %s', (_name, maxConcurrentCalls, cap) => {
  it('every call completes with the reply to its own request', async () => {
    const stats = { running: 0, maxRunning: 0 };
    const { client, dispose } = await rpcPair((server) => squares(server, stats), { server: { maxConcurrentCalls } });
    try {
      await client.connect();
      const completionOrder: number[] = [];
      const calls = Array.from({ length: CALLS }, (_, i) =>
        client.call<{ i: number; sq: number }>('square', { i }).then((reply) => {
          completionOrder.push(i);
          return reply;
        }),
      );
      const replies = await Promise.all(calls);

      const mismatched = replies.findIndex((reply, i) => reply.i !== i || reply.sq !== i * i);
      expect(mismatched).toBe(-1);
      // The replies really did come back in a different order than the requests went out.
      expect(completionOrder).not.toEqual([...completionOrder].sort((a, b) => a - b));
      // The server never ran more than its cap at once; the small cap was reached, so reads paused.
      expect(stats.maxRunning).toBeLessThanOrEqual(cap);
      expect(stats.maxRunning).toBeGreaterThanOrEqual(64);
      expect(client.currentSession?.inFlight).toBe(0);
    } finally {
      await dispose();
    }
    // Well under a second normally; --detectOpenHandles makes each promise far dearer.
  }, 60_000);
});
