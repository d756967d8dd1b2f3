/**
 * A server under Node's `cluster`: two workers on one port of one address. The primary hands
 * each new connection to a worker in turn, so calls spread over the workers only when there
 * are several connections: several clients, or one client with `connectionsPerEndpoint`.
 */
import type { ChildProcess } from 'node:child_process';
import { RpcClient } from '../../src/rpc/index.js';
import { nextTurn, within } from '../helpers/async.js';
import { forkScript, killChild } from '../helpers/child-process.js';

const SCRIPT = 'test/rpc/fixtures/cluster-server.ts';

describe('a server under cluster, two workers on one port', () => {
  let primary: ChildProcess | undefined;
  let port = 0;
  let workers: number[] = [];

  beforeAll(async () => {
    const { child, ready } = await forkScript<{ port: number; workers: number[] }>(SCRIPT);
    primary = child;
    port = ready.port;
    workers = ready.workers;
  }, 20_000);

  afterAll(async () => {
    if (primary !== undefined) await killChild(primary);
  });

  async function pidsSeen(client: RpcClient, calls: number): Promise<Map<number, number>> {
    const seen = new Map<number, number>();
    await Promise.all(
      Array.from({ length: calls }, async () => {
        const pid = await client.call<number>('whoami', null);
        seen.set(pid, (seen.get(pid) ?? 0) + 1);
      }),
    );
    return seen;
  }

  it('several clients: calls spread over both workers', async () => {
    const clients = Array.from({ length: 4 }, () => new RpcClient({ port }));
    try {
      const seen = new Map<number, number>();
      for (const client of clients) {
        for (const [pid, count] of await within(pidsSeen(client, 20), 5000, 'the calls')) seen.set(pid, (seen.get(pid) ?? 0) + count);
      }
      expect([...seen.keys()].sort()).toEqual([...workers].sort());
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  it('one client with connectionsPerEndpoint: 2 uses both workers behind the one address', async () => {
    const client = new RpcClient({ endpoints: [`127.0.0.1:${port}`], connectionsPerEndpoint: 2 });
    try {
      await client.connect();
      await within(
        (async () => {
          while (client.readySubchannels < 2) await nextTurn();
        })(),
        5000,
        'both connections',
      );
      const seen = await within(pidsSeen(client, 200), 5000, 'the calls');
      expect([...seen.keys()].sort()).toEqual([...workers].sort());
    } finally {
      await client.close();
    }
  });
});
