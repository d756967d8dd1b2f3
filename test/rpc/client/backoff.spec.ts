import { Backoff } from '../../../src/rpc/client/backoff.js';

/** A random source that returns `values` in turn. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

describe('Backoff', () => {
  it('waits in [d/2, d]: the lowest draw gives d/2, the highest d', () => {
    const low = new Backoff({ initialDelayMs: 100 }, () => 0);
    const high = new Backoff({ initialDelayMs: 100 }, () => 1);
    expect(low.next()).toBe(50);
    expect(high.next()).toBe(100);
    const middle = new Backoff({ initialDelayMs: 100 }, () => 0.5);
    expect(middle.next()).toBe(75);
  });

  it('grows by the multiplier per attempt', () => {
    const backoff = new Backoff({ initialDelayMs: 100, multiplier: 3, maxDelayMs: 1_000_000 }, () => 1);
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([100, 300, 900, 2700]);
  });

  it('the defaults: 100 ms first, doubling, capped at 5 s', () => {
    const backoff = new Backoff({}, () => 1);
    const delays = Array.from({ length: 9 }, () => backoff.next());
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  });

  it('never exceeds the cap, and the cap keeps its jitter', () => {
    const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 300 }, sequence(1, 0));
    expect(Array.from({ length: 6 }, () => backoff.next())).toEqual([100, 100, 300, 150, 300, 150]);
  });

  it('reset() starts the schedule over', () => {
    const backoff = new Backoff({ initialDelayMs: 10, maxDelayMs: 1000 }, () => 1);
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([10, 20, 40]);
    backoff.reset();
    expect([backoff.next(), backoff.next()]).toEqual([10, 20]);
  });
});
