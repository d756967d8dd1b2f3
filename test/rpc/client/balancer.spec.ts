import { pickByAffinity, picker } from '../../../src/rpc/client/balancer.js';

const candidates = (...loads: number[]) => loads.map((load, i) => ({ load, endpointKey: `10.0.0.${i + 1}:4000` }));

/** A random source that hands out `values` in turn. */
const sequence = (...values: number[]) => {
  let next = 0;
  return () => values[next++ % values.length] as number;
};

describe('balancers', () => {
  it('p2c: of the two drawn, the one with fewer calls in flight; on a tie the first drawn', () => {
    const ready = candidates(5, 1, 3);
    // Draws index 0, then index 1 of the remaining two (which is 2).
    expect(picker('p2c', sequence(0, 0.6))(ready)).toBe(ready[2]);
    expect(picker('p2c', sequence(0.5, 0))(ready)).toBe(ready[1]);
    const tied = candidates(2, 2, 2);
    expect(picker('p2c', sequence(0.9, 0))(tied)).toBe(tied[2]);
  });

  it('p2c: equal loads spread evenly', () => {
    const ready = candidates(0, 0, 0, 0);
    const pick = picker('p2c');
    const counts = new Map<unknown, number>();
    for (let i = 0; i < 4000; i++) {
      const chosen = pick(ready);
      counts.set(chosen, (counts.get(chosen) ?? 0) + 1);
    }
    for (const candidate of ready) expect(counts.get(candidate)).toBeGreaterThan(800);
  });

  it('round-robin goes round, whatever the list length does', () => {
    const pick = picker('round-robin');
    const three = candidates(0, 0, 0);
    expect([pick(three), pick(three), pick(three), pick(three)]).toEqual([three[0], three[1], three[2], three[0]]);
    const two = candidates(0, 0);
    expect(pick(two)).toBe(two[1]);
    expect(pick(two)).toBe(two[0]);
  });

  it('pick-first: the first ready one', () => {
    const ready = candidates(9, 0);
    expect(picker('pick-first')(ready)).toBe(ready[0]);
  });

  it('affinity: a key keeps its endpoint; removing another endpoint moves none of its keys', () => {
    const all = candidates(0, 0, 0, 0);
    const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`);
    const home = new Map(keys.map((key) => [key, pickByAffinity(all, key)]));
    // Spread: every endpoint gets some keys.
    for (const candidate of all) expect([...home.values()].filter((chosen) => chosen === candidate).length).toBeGreaterThan(20);
    const without = all.slice(1);
    for (const key of keys) {
      const now = pickByAffinity(without, key);
      if (home.get(key) !== all[0]) expect(now).toBe(home.get(key));
    }
  });
});
