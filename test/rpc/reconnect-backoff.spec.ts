import net from 'node:net';
import { RpcClient } from '../../src/rpc/index.js';
import { within } from '../helpers/async.js';

const INITIAL_MS = 5;
const MAX_MS = 40;
const ATTEMPTS = 10;

describe('reconnect backoff', () => {
  it('a server that accepts and closes at once is retried ever more slowly, up to the maximum delay', async () => {
    const accepted: number[] = [];
    let enough: () => void = () => {};
    const reached = new Promise<void>((resolve) => (enough = resolve));
    const server = net.createServer((socket) => {
      accepted.push(performance.now());
      socket.destroy();
      if (accepted.length === ATTEMPTS) enough();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const client = new RpcClient({ port, reconnect: { initialDelayMs: INITIAL_MS, maxDelayMs: MAX_MS } });
    client.on('error', () => {});
    try {
      await client.connect();
      await within(reached, 10_000, `${ATTEMPTS} connection attempts`);
      const gaps = accepted.slice(1).map((at, i) => at - (accepted[i] as number));
      // Delays double from 5 ms (5, 10, 20, 40, 40, ...), each jittered into [d/2, d]: from the
      // fourth reconnect on, none is shorter than MAX_MS / 2. Reset at every accepted
      // connection, every one would be at most INITIAL_MS plus the connect time.
      for (const gap of gaps.slice(3)) expect(gap).toBeGreaterThanOrEqual(MAX_MS / 2 - 1);
    } finally {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
