/**
 * Servers as separate processes on 127.0.0.1, 127.0.0.2 and 127.0.0.3 (one port), one client
 * with 64 calls in flight: one server is killed (SIGKILL) mid-load, one drains gracefully, a
 * fourth on 127.0.0.4 joins through the resolver. Idempotent calls with a retry policy never
 * fail; calls without one fail only if they were in flight on the killed server (they may have
 * reached its handler); nothing that never reached a handler fails; every call settles.
 */
import type { ChildProcess } from 'node:child_process';
import { RpcClient } from '../../src/rpc/index.js';
import { within } from '../helpers/async.js';
import { forkScript, killChild } from '../helpers/child-process.js';
import { continuousLoad, failureCodes, quickReconnect } from './balancing-support.js';

const SCRIPT = 'test/rpc/fixtures/named-server.ts';
const IN_FLIGHT = 64;

interface Child {
  child: ChildProcess;
  name: string;
  endpoint: string;
}

async function spawnServer(host: string, port: number, name: string): Promise<Child & { port: number }> {
  const { child, ready } = await forkScript<{ port: number }>(SCRIPT, [host, String(port), name]);
  return { child, name, endpoint: `${host}:${ready.port}`, port: ready.port };
}

/** Three servers on one port of 127.0.0.1-3; a port free on the first may be taken on another, so a few tries. */
async function threeServers(): Promise<{ servers: Child[]; port: number }> {
  for (let tries = 0; ; tries++) {
    const first = await spawnServer('127.0.0.1', 0, 's1');
    try {
      const others = [await spawnServer('127.0.0.2', first.port, 's2'), await spawnServer('127.0.0.3', first.port, 's3')];
      return { servers: [first, ...others], port: first.port };
    } catch (err) {
      await killChild(first.child);
      if (tries >= 3) throw err;
    }
  }
}

describe('failover under load, servers in child processes', () => {
  it('SIGKILL one, drain one, add a fourth: retried calls 0 failed, unreached calls 0 failed, every call settles', async () => {
    const { servers, port } = await threeServers();
    const children: ChildProcess[] = servers.map(({ child }) => child);
    let answer = servers.map(({ endpoint }) => endpoint);
    const client = new RpcClient({ resolver: async () => answer, resolveIntervalMs: 100, reconnect: quickReconnect });
    const served: Record<string, number> = {};
    const count = (name: string): string => {
      served[name] = (served[name] ?? 0) + 1;
      return name;
    };
    try {
      const [killed, drained] = servers as [Child, Child, Child];
      const retried = continuousLoad(IN_FLIGHT / 2, () =>
        client.call<string>('work', 2, { retry: { attempts: 5 }, timeoutMs: 15_000 }).then(count),
      );
      const plain = continuousLoad(IN_FLIGHT / 2, () => client.call<string>('work', 2, { timeoutMs: 15_000 }).then(count));
      const completed = (): number => retried.completed() + plain.completed();
      const atLeast = async (more: number): Promise<void> => {
        const target = completed() + more;
        while (completed() < target) await Promise.race([retried.whenCompleted(retried.completed() + 1), plain.whenCompleted(plain.completed() + 1)]);
      };

      await within(atLeast(300), 15_000, 'load on three servers');
      expect(Object.keys(served).sort()).toEqual(['s1', 's2', 's3']);

      await killChild(killed.child);
      await within(atLeast(300), 15_000, 'load after the kill');

      const drainedMessage = new Promise<void>((resolve) => drained.child.on('message', (message) => message === 'drained' && resolve()));
      drained.child.send('drain');
      await within(drainedMessage, 15_000, 's2 to drain');
      const plainBeforeDrain = failureCodes(plain.outcomes());
      await within(atLeast(300), 15_000, 'load after the drain');

      const fourth = await spawnServer('127.0.0.4', port, 's4');
      children.push(fourth.child);
      answer = [...answer, fourth.endpoint];
      const s4Before = served.s4 ?? 0;
      await within(
        (async () => {
          while ((served.s4 ?? 0) === s4Before) await atLeast(1);
        })(),
        15_000,
        's4 to get calls',
      );

      const [retriedResults, plainResults] = await within(Promise.all([retried.stop(), plain.stop()]), 20_000, 'every call to settle');
      expect(failureCodes(retriedResults)).toEqual({});
      // The only plain failures: calls in flight on the killed server's connection, at most one window's worth.
      const plainFailures = failureCodes(plainResults);
      expect(Object.keys(plainFailures).filter((code) => code !== 'ERR_CONNECTION_CLOSED')).toEqual([]);
      expect(plainFailures.ERR_CONNECTION_CLOSED ?? 0).toBeLessThanOrEqual(IN_FLIGHT / 2);
      // None after the drain began: refused and unanswered-above-GoAway calls all moved.
      expect(failureCodes(plainResults)).toEqual(plainBeforeDrain);
      expect(served.s4).toBeGreaterThan(0);
    } finally {
      await client.close(1000);
      await Promise.all(children.map((child) => killChild(child)));
    }
  }, 60_000);
});
