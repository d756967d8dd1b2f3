/**
 * One client, several servers on 127.0.0.1, 127.0.0.2, 127.0.0.3 and the same port: how calls
 * spread (p2c, round-robin, pick-first, affinity), what a call does with no ready endpoint,
 * and the calls that move without failing (a graceful drain, a connection that fails before
 * flushing, an idempotent call with a retry policy).
 */
import { type CallContext, RpcClient, type RpcClientOptions } from '../../src/rpc/index.js';
import { deferred, latch, nextTurn, within } from '../helpers/async.js';
import { codeOf, rejection } from '../helpers/errors.js';
import { unusedPort } from '../helpers/net.js';
import { continuousLoad, endpointsOf, failureCodes, loopbackServers, quickReconnect, runLoad } from './balancing-support.js';
import { nextStatus } from './support.js';

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Every server answers `work` (after `data` ms) with its name, counting the calls. */
function workServers(count: number, slowdown: (name: string) => number = () => 1) {
  return loopbackServers(count, (server, self) => {
    server.handle('work', async (ms) => {
      self.calls++;
      await delay(Number(ms) * slowdown(self.name));
      return self.name;
    });
  });
}

function clientOf(endpoints: string[], options: Omit<RpcClientOptions, 'host' | 'port' | 'path' | 'endpoints'> = {}): RpcClient {
  return new RpcClient({ endpoints, reconnect: quickReconnect, ...options });
}

describe('spreading calls over endpoints', () => {
  it('p2c: equal servers get equal shares (within 20 %) of 900 calls, 64 in flight', async () => {
    const { servers, port, close } = await workServers(3);
    const client = clientOf(endpointsOf(servers, port));
    try {
      // connect() resolves with the first ready endpoint: the load starts once all three are,
      // or the first one ready takes the whole first burst (64 calls) alone.
      await client.connect();
      await within(waitForStatusAll(client), 5000, 'three ready subchannels');
      const results = await within(runLoad(900, 64, () => client.call('work', 1)), 20_000, 'the load');
      expect(failureCodes(results)).toEqual({});
      for (const server of servers) {
        expect(server.calls).toBeGreaterThanOrEqual(240);
        expect(server.calls).toBeLessThanOrEqual(360);
      }
    } finally {
      await client.close();
      await close();
    }
  });

  it('p2c: a server whose handler is 10x slower gets fewer calls than each of the others', async () => {
    const { servers, port, close } = await workServers(3, (name) => (name === 's3' ? 10 : 1));
    const client = clientOf(endpointsOf(servers, port));
    try {
      await client.connect();
      await within(waitForStatusAll(client), 5000, 'three ready subchannels');
      const results = await within(runLoad(600, 64, () => client.call('work', 4)), 30_000, 'the load');
      expect(failureCodes(results)).toEqual({});
      const [fast1, fast2, slow] = servers.map((server) => server.calls) as [number, number, number];
      expect(slow).toBeLessThan(fast1);
      expect(slow).toBeLessThan(fast2);
      expect(slow).toBeLessThan(600 / 3);
    } finally {
      await client.close();
      await close();
    }
  });

  it('round-robin: one call at a time goes to each server in turn', async () => {
    const { servers, port, close } = await workServers(3);
    const client = clientOf(endpointsOf(servers, port), { balancer: 'round-robin' });
    try {
      // Every endpoint ready first, so the turn covers all three from the first call on.
      await client.connect();
      await within(waitFor(() => servers.every((server) => server.server.connectionCount === 1)), 2000, 'three connections');
      await within(waitForStatusAll(client), 2000, 'three ready subchannels');
      for (let i = 0; i < 30; i++) await client.call('work', 0);
      expect(servers.map((server) => server.calls)).toEqual([10, 10, 10]);
    } finally {
      await client.close();
      await close();
    }
  });

  it('pick-first: every call to the first endpoint while it is up, then to the next', async () => {
    const { servers, port, close } = await workServers(2);
    const client = clientOf(endpointsOf(servers, port), { balancer: 'pick-first' });
    try {
      await client.connect();
      await within(waitForStatusAll(client), 2000, 'both ready');
      for (let i = 0; i < 10; i++) await client.call('work', 0);
      expect(servers.map((server) => server.calls)).toEqual([10, 0]);
      await (servers[0] as (typeof servers)[number]).server.close();
      for (let i = 0; i < 10; i++) expect(await client.call('work', 0)).toBe('s2');
    } finally {
      await client.close();
      await close();
    }
  });

  it('affinityKey: a key sticks to one server while it is up; when it goes, only its keys move', async () => {
    const { servers, port, close } = await workServers(3);
    const client = clientOf(endpointsOf(servers, port));
    try {
      await client.connect();
      await within(waitForStatusAll(client), 2000, 'three ready');
      const keys = Array.from({ length: 30 }, (_, i) => `user-${i}`);
      const home = new Map<string, string>();
      for (const key of keys) {
        const first = await client.call<string>('work', 0, { affinityKey: key });
        for (let i = 0; i < 3; i++) expect(await client.call('work', 0, { affinityKey: key })).toBe(first);
        home.set(key, first);
      }
      // Rendezvous hashing spreads the keys.
      expect(new Set(home.values()).size).toBe(3);

      const gone = servers[0] as (typeof servers)[number];
      await gone.server.close();
      for (const key of keys) {
        const now = await client.call<string>('work', 0, { affinityKey: key });
        if (home.get(key) === gone.name) expect(now).not.toBe(gone.name);
        else expect(now).toBe(home.get(key));
      }
    } finally {
      await client.close();
      await close();
    }
  });

  it('connectionsPerEndpoint: one endpoint, several connections, calls on each', async () => {
    const ports = new Set<number | undefined>();
    const { servers, port, close } = await loopbackServers(1, (server) =>
      server.handle('work', async (_data, ctx: CallContext) => {
        ports.add(ctx.peer.remotePort);
        await delay(1);
        return null;
      }),
    );
    const client = clientOf(endpointsOf(servers, port), { connectionsPerEndpoint: 3 });
    try {
      await client.connect();
      await within(waitFor(() => (servers[0] as (typeof servers)[number]).server.connectionCount === 3), 2000, 'three connections');
      await within(waitForStatusAll(client), 2000, 'three ready');
      await within(runLoad(300, 32, () => client.call('work', null)), 10_000, 'the load');
      expect(ports.size).toBe(3);
    } finally {
      await client.close();
      await close();
    }
  });
});

describe('a call with no ready endpoint', () => {
  it('waitForReady: false fails with ERR_NO_READY_ENDPOINT: after the first attempt, then at once while connecting fails', async () => {
    const port = await unusedPort();
    const client = new RpcClient({ port, reconnect: quickReconnect });
    try {
      const statuses: string[] = [];
      client.on('status', (status) => statuses.push(status));
      // The first attempt is waited for; its error is the cause.
      const first = await rejection(client.call('work', 0, { waitForReady: false }));
      expect(codeOf(first)).toBe('ERR_NO_READY_ENDPOINT');
      expect(codeOf((first as Error).cause)).toBe('ECONNREFUSED');
      expect(statuses).toEqual(['connecting', 'idle']);
      // Now the client is failing: the next fails without waiting for the attempt it starts.
      let settled = false;
      const failFast = rejection(client.call('work', 0, { waitForReady: false })).finally(() => (settled = true));
      await Promise.resolve();
      await Promise.resolve();
      expect(settled).toBe(true);
      expect(codeOf(await failFast)).toBe('ERR_NO_READY_ENDPOINT');
      expect(codeOf(await rejection(client.call('work', 0)))).toBe('ECONNREFUSED');
    } finally {
      await client.close();
    }
  });

  it('with a deadline, waits through failed attempts for a server that starts late, and the server sees the remaining budget', async () => {
    const port = await unusedPort();
    const client = new RpcClient({ port, reconnect: quickReconnect });
    let late: Awaited<ReturnType<typeof loopbackServers>> | undefined;
    try {
      const madeAt = Date.now();
      const seen = deferred<number | undefined>();
      const call = client.call('work', 0, { timeoutMs: 10_000 });
      // It keeps retrying while the call waits: two failed attempts at least.
      await within(nextStatus(client, 'disconnected'), 2000, 'a failed attempt');
      await within(nextStatus(client, 'connecting'), 2000, 'a retry');
      late = await lateServer(port, (deadline) => seen.resolve(deadline));
      expect(await within(call, 5000, 'the waiting call')).toBe('late');
      // The budget spent waiting is gone: the server's deadline is the call's, not a fresh 10 s.
      expect(await seen.promise).toBeLessThanOrEqual(madeAt + 10_000 + 5);
    } finally {
      await client.close();
      await late?.close();
    }
  });

  it('with a deadline and no server, fails with ERR_DEADLINE_EXCEEDED', async () => {
    const client = new RpcClient({ port: await unusedPort(), reconnect: quickReconnect });
    try {
      const err = await within(rejection(client.call('work', 0, { timeoutMs: 100 })), 2000, 'the deadline');
      expect(codeOf(err)).toBe('ERR_DEADLINE_EXCEEDED');
    } finally {
      await client.close();
    }
  });

  it('an empty endpoint list fails calls with ERR_NO_READY_ENDPOINT', async () => {
    const client = new RpcClient({ endpoints: [] });
    try {
      expect(codeOf(await rejection(client.call('work', 0)))).toBe('ERR_NO_READY_ENDPOINT');
    } finally {
      await client.close();
    }
  });

  it('endpoints mixed with host/port, a malformed entry or an unknown balancer: ERR_INVALID_OPTION', () => {
    expect(() => new RpcClient({ port: 1, endpoints: ['127.0.0.1:1'] } as RpcClientOptions)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => new RpcClient({ endpoints: ['nohost'] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', option: 'endpoints' }));
    expect(() => new RpcClient({ endpoints: [{ host: '127.0.0.1' }] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => new RpcClient({ endpoints: ['127.0.0.1:1'], balancer: 'random' as 'p2c' })).toThrow(expect.objectContaining({ option: 'balancer' }));
    expect(() => new RpcClient({ endpoints: ['127.0.0.1:1'], connectionsPerEndpoint: 0 })).toThrow(expect.objectContaining({ option: 'connectionsPerEndpoint' }));
  });
});

describe('calls that move instead of failing', () => {
  it('a server draining gracefully under load (64 in flight): no call fails, the others take the new ones', async () => {
    const { servers, port, close } = await workServers(3);
    const client = clientOf(endpointsOf(servers, port));
    try {
      await client.connect();
      const load = continuousLoad(64, () => client.call('work', 2));
      await within(load.whenCompleted(300), 10_000, 'load under way');
      const draining = servers[1] as (typeof servers)[number];
      await within(draining.server.close(5000), 10_000, 'the drain');
      const drainedAt = draining.calls;
      const after = load.completed();
      await within(load.whenCompleted(after + 300), 10_000, 'load after the drain');
      const results = await within(load.stop(), 10_000, 'every call to settle');
      expect(failureCodes(results)).toEqual({});
      expect(draining.calls).toBe(drainedAt);
    } finally {
      await client.close();
      await close();
    }
  });

  it('a call whose connection fails before flushing it is sent again and answered once', async () => {
    const { servers, port, close } = await workServers(1);
    const client = new RpcClient({ port, host: '127.0.0.1', reconnect: false });
    try {
      await client.connect();
      const call = client.call('work', 0);
      // Same tick: the request is still in the connection's batch, which destroy() drops.
      client.currentSession?.conn.destroy();
      expect(await within(call, 5000, 'the moved call')).toBe('s1');
      expect((servers[0] as (typeof servers)[number]).calls).toBe(1);
    } finally {
      await client.close();
      await close();
    }
  });

  it('retry: an idempotent call whose connection dies mid-call is retried; without a policy it fails', async () => {
    const hung = latch(2);
    const { servers, port, close } = await loopbackServers(2, (server, self) =>
      server.handle('work', async (_data, ctx: CallContext) => {
        self.calls++;
        // The first call on s1 hangs until its connection is cut; later ones answer.
        if (self.name === 's1' && self.calls <= 2) {
          hung.hit();
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        }
        return self.name;
      }),
    );
    const client = clientOf(endpointsOf(servers, port), { balancer: 'pick-first' });
    try {
      await client.connect();
      await within(waitForStatusAll(client), 2000, 'both ready');
      const withRetry = client.call('work', 0, { retry: { attempts: 3 }, timeoutMs: 10_000 });
      const plain = rejection(client.call('work', 0, { timeoutMs: 10_000 }));
      await within(hung.done, 2000, 'both calls on s1');
      for (const socket of (servers[0] as (typeof servers)[number]).sockets) socket.destroy();
      expect(await within(withRetry, 5000, 'the retried call')).toMatch(/^s[12]$/);
      expect(codeOf(await plain)).toBe('ERR_CONNECTION_CLOSED');
    } finally {
      await client.close();
      await close();
    }
  });

  it('retry: never after a handler error of its own, and attempts below 1 are refused', async () => {
    const { servers, port, close } = await loopbackServers(1, (server, self) =>
      server.handle('fail', () => {
        self.calls++;
        throw new Error('no');
      }),
    );
    const client = clientOf(endpointsOf(servers, port));
    try {
      expect(codeOf(await rejection(client.call('fail', 0, { retry: { attempts: 5 } })))).toBe('ERR_REMOTE');
      expect((servers[0] as (typeof servers)[number]).calls).toBe(1);
      expect(codeOf(await rejection(client.call('fail', 0, { retry: { attempts: 0 } })))).toBe('ERR_INVALID_OPTION');
    } finally {
      await client.close();
      await close();
    }
  });
});

describe('close() with several endpoints (not terminal, as Transport.TCP)', () => {
  it('the next call connects to every endpoint again, and calls spread over all of them', async () => {
    const { servers, port, close } = await workServers(3);
    const client = clientOf(endpointsOf(servers, port), { balancer: 'round-robin' });
    try {
      await client.connect();
      await within(waitFor(() => client.readySubchannels === 3), 2000, 'three ready subchannels');
      await client.close();
      expect(client.status).toBe('closed');
      await within(waitFor(() => servers.every((server) => server.server.connectionCount === 0)), 2000, 'the old connections to close');

      expect(await client.call('work', 0)).toMatch(/^s[123]$/);
      await within(waitFor(() => client.readySubchannels === 3), 2000, 'three ready subchannels again');
      expect(client.subchannelCount).toBe(3);
      const before = servers.map((server) => server.calls);
      for (let i = 0; i < 30; i++) await client.call('work', 0);
      expect(servers.map((server, i) => server.calls - (before[i] as number))).toEqual([10, 10, 10]);
      // One new connection to each.
      expect(servers.map((server) => server.sockets.length)).toEqual([2, 2, 2]);
    } finally {
      await client.close();
      await close();
    }
  });

  it('close() fails the calls waiting on a resolution with ERR_CLIENT_CLOSED; the next call asks the resolver again', async () => {
    const { servers, port, close } = await workServers(2);
    const held = deferred<string[]>();
    let resolutions = 0;
    const client = new RpcClient({
      // The first answer is held until the test lets it go; later ones come at once.
      resolver: () => (++resolutions === 1 ? held.promise : Promise.resolve(endpointsOf(servers, port))),
      resolveIntervalMs: 60_000,
      reconnect: quickReconnect,
    });
    try {
      const waiting = rejection(client.call('work', 0));
      expect(client.status).toBe('connecting');
      void client.close();
      expect(codeOf(await waiting)).toBe('ERR_CLIENT_CLOSED');

      // Reopened, it does not wait on the resolution close() gave up.
      expect(await client.call('work', 0)).toMatch(/^s[12]$/);
      expect(resolutions).toBe(2);
      // That one's answer, landing late, changes nothing.
      held.resolve([]);
      await nextTurn();
      expect(await client.call('work', 0)).toMatch(/^s[12]$/);
      expect(client.subchannelCount).toBe(2);
    } finally {
      await client.close();
      await close();
    }
  });
});

/** Resolves once `check` holds, looking after each turn of the event loop. */
async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await nextTurn();
}

/** Resolves once every subchannel of the client is ready. */
function waitForStatusAll(client: RpcClient): Promise<void> {
  return waitFor(() => client.readySubchannels === client.subchannelCount);
}

/** A server on 127.0.0.1:`port` answering `work` with 'late', reporting each call's deadline. */
function lateServer(port: number, onDeadline: (deadline: number | undefined) => void) {
  return loopbackServers(
    1,
    (server) =>
      server.handle('work', (_data, ctx: CallContext) => {
        onDeadline(ctx.deadline);
        return 'late';
      }),
    port,
  );
}
