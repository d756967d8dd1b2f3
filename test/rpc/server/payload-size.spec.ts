import { payloadSize } from '../../../src/rpc/server/payload-size.js';

describe('payloadSize', () => {
  it('counts strings by length, bytes by byteLength, scalars 8, plus 16 per item and 8 per value or entry', () => {
    expect(payloadSize('abcd')).toBe(16 + 4);
    expect(payloadSize(Buffer.alloc(100))).toBe(16 + 100);
    expect(payloadSize(42)).toBe(16 + 8);
    expect(payloadSize({ s: 'xy' })).toBe(16 + 8 + (1 + 8 + 2));
    expect(payloadSize([1, 'ab'])).toBe(16 + 8 + (8 + 8) + (8 + 2));
  });

  it('walks a cyclic value a bounded number of steps', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(payloadSize(cyclic)).toBeLessThan(1_000);
  });

  it('a walk started from a getter during another walk does not disturb the outer one', () => {
    const inner = { a: 'x' };
    const plain = { a: 1, b: 'yy' };
    const reentrant = {
      get a(): number {
        payloadSize(inner);
        return 1;
      },
      b: 'yy',
    };
    expect(payloadSize(reentrant)).toBe(payloadSize(plain));
  });
});
