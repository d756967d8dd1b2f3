/**
 * How a call picks one of the ready connections (the `balancer` option):
 *   'p2c'          two at random, the one with fewer calls in flight (the power of two
 *                  choices: near least-loaded at the cost of two reads, and a slow server,
 *                  whose calls pile up, gets fewer new ones). The default.
 *   'round-robin'  each in turn.
 *   'pick-first'   the first ready one in the endpoints' order; the others are kept
 *                  connected as the failover.
 */
export type BalancerName = 'p2c' | 'round-robin' | 'pick-first';

/** What a picker needs of a ready subchannel. */
export interface Candidate {
  /** Calls in flight on it. */
  readonly load: number;
  /** Its endpoint (connections to one endpoint share it). */
  readonly endpointKey: string;
}

/** Picks one of `ready` (at least two, in the endpoints' order). */
export type Picker = <T extends Candidate>(ready: readonly T[]) => T;

export const BALANCERS: readonly BalancerName[] = ['p2c', 'round-robin', 'pick-first'];

export function picker(name: BalancerName, random: () => number = Math.random): Picker {
  switch (name) {
    case 'p2c':
      return (ready) => {
        const count = ready.length;
        const first = Math.floor(random() * count);
        let second = Math.floor(random() * (count - 1));
        if (second >= first) second++;
        const a = ready[first] as (typeof ready)[number];
        const b = ready[second] as (typeof ready)[number];
        // On a tie the first: itself a uniform draw, so equal loads spread evenly.
        return b.load < a.load ? b : a;
      };
    case 'round-robin': {
      let next = 0;
      return (ready) => {
        if (next >= ready.length) next = 0;
        return ready[next++] as (typeof ready)[number];
      };
    }
    case 'pick-first':
      return (ready) => ready[0] as (typeof ready)[number];
  }
}

/**
 * Rendezvous (highest random weight) hashing: every ready endpoint scores hash(endpoint, key)
 * and the highest wins. A key stays on its endpoint while that endpoint is ready; when one
 * goes, only its keys move, and when it comes back they return. Among the connections of the
 * winning endpoint, the least loaded.
 */
export function pickByAffinity<T extends Candidate>(ready: readonly T[], key: string): T {
  const keyHash = fnv1a(key, FNV_OFFSET);
  let best = ready[0] as T;
  let bestScore = -1;
  for (const candidate of ready) {
    const score = mix(fnv1a(candidate.endpointKey, keyHash));
    if (score > bestScore || (score === bestScore && candidate.load < best.load)) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

const FNV_OFFSET = 0x811c9dc5;

/** 32-bit FNV-1a of `text`, continuing from `hash`. */
function fnv1a(text: string, hash: number): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finalizer: spreads FNV's weak low bits over the whole word. */
function mix(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
