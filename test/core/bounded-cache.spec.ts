import { BoundedCache } from '../../src/core/bounded-cache.js';

describe('BoundedCache', () => {
  it('keeps at most its cap, clearing everything when a new key would pass it', () => {
    const cache = new BoundedCache<string, number>(3);
    for (const [index, key] of ['a', 'b', 'c'].entries()) cache.set(key, index);
    expect(cache.size).toBe(3);
    cache.set('b', 10); // an existing key: replaced, nothing evicted
    expect([cache.get('a'), cache.get('b'), cache.size]).toEqual([0, 10, 3]);
    cache.set('d', 3);
    expect([cache.get('a'), cache.get('d'), cache.size]).toEqual([undefined, 3, 1]);
  });

  it('clear() empties it', () => {
    const cache = new BoundedCache<string, null>();
    cache.set('route', null);
    expect(cache.get('route')).toBeNull();
    cache.clear();
    expect([cache.get('route'), cache.size]).toEqual([undefined, 0]);
  });
});
