import { Duplex } from 'node:stream';

/**
 * Two in-memory streams wired back to back: bytes written to one are read from the other,
 * ending one ends the other's readable side, destroying one destroys the other (like a reset).
 * Chunks keep their boundaries, so a test controls exactly how bytes arrive.
 */
export function duplexPair(): [Duplex, Duplex] {
  const a: Duplex = end(() => b);
  const b: Duplex = end(() => a);
  return [a, b];
}

function end(peer: () => Duplex): Duplex {
  return new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      peer().push(chunk);
      callback();
    },
    final(callback) {
      peer().push(null);
      callback();
    },
    destroy(err, callback) {
      const other = peer();
      if (!other.destroyed) other.destroy();
      callback(err);
    },
  });
}
