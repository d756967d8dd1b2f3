/**
 * A memo for values derived from keys that repeat (routes, pattern bytes), with a size cap so
 * a peer that sends endless distinct keys costs bounded memory.
 *
 * Eviction is all at once: a `set` that finds the cache full clears it first. That keeps `get`
 * a plain Map lookup (no recency bookkeeping on the hot path); the keys in use are cached again
 * on their next miss.
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly maxEntries = 1024) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) this.entries.clear();
    this.entries.set(key, value);
  }

  clear(): void {
    this.entries.clear();
  }
}
