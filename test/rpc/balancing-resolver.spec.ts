/**
 * Endpoints that change: a resolver whose answer changes under load (added endpoints get calls
 * from the next periodic resolution, removed ones drain: their calls in flight finish), and the
 * real DNS path with a name this machine resolves (localhost).
 */
import type { CallContext } from '../../src/rpc/index.js';
import { RpcClient } from '../../src/rpc/index.js';
import { deferred, nextTurn, within } from '../helpers/async.js';
import { continuousLoad, endpointsOf, failureCodes, type LoopbackServer, loopbackServers, quickReconnect } from './balancing-support.js';

const RESOLVE_INTERVAL_MS = 200;

async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await nextTurn();
}

describe('a resolver whose answer changes mid-load', () => {
  it('added endpoints get calls from the next periodic resolution; a removed one drains its calls in flight and gets no new ones', async () => {
    const gate = deferred<void>();
    const gated = deferred<void>();
    const s3FirstCall = deferred<void>();
    const { servers, port, close } = await loopbackServers(3, (server, self) => {
      server.handle('work', async () => {
        self.calls++;
        if (self.name === 's3') s3FirstCall.resolve();
        await new Promise((resolve) => setTimeout(resolve, 1));
        return self.name;
      });
      // On s1 only, a call that runs until the test lets it go.
      server.handle('gate', async () => {
        if (self.name !== 's1') return self.name;
        gated.resolve();
        await gate.promise;
        return 's1 drained';
      });
    });
    const [s1, s2, s3] = servers as [LoopbackServer, LoopbackServer, LoopbackServer];
    let answer = endpointsOf([s1, s2], port);
    let resolutions = 0;
    // Resolves when the resolver first hands out an answer naming s3.
    const s3Named = deferred<void>();
    const s3Endpoint = endpointsOf([s3], port)[0] as string;
    const client = new RpcClient({
      resolver: async () => {
        resolutions++;
        if (answer.includes(s3Endpoint)) s3Named.resolve();
        return answer;
      },
      resolveIntervalMs: RESOLVE_INTERVAL_MS,
      reconnect: quickReconnect,
    });
    try {
      const load = continuousLoad(16, () => client.call('work', null));
      await within(waitFor(() => s1.calls > 10 && s2.calls > 10), 5000, 'calls on s1 and s2');
      expect(s3.calls).toBe(0);

      // A call in flight on s1: affinity keys until one lands there.
      let gateCall: Promise<unknown> | undefined;
      for (let i = 0; gateCall === undefined && i < 64; i++) {
        const call = client.call('gate', null, { affinityKey: `key-${i}` });
        const landed = await Promise.race([call.then(() => false), gated.promise.then(() => true)]);
        if (landed) gateCall = call;
      }
      expect(gateCall).toBeDefined();

      const before = resolutions;
      answer = endpointsOf([s2, s3], port);
      // No connection fails here to prompt a resolution: the periodic one (every
      // RESOLVE_INTERVAL_MS) sees the change, and s3 gets calls from it on. The bounds are
      // safety nets for a loaded machine, not the interval under test.
      await within(s3Named.promise, 10_000, 'a resolution naming s3');
      expect(resolutions).toBeGreaterThan(before);
      await within(s3FirstCall.promise, 10_000, 's3 to get calls');

      // s1 takes no new call once it left the answer; its call in flight is still running.
      const s1Calls = s1.calls;
      const completed = load.completed();
      await within(load.whenCompleted(completed + 200), 5000, 'more load');
      expect(s1.calls).toBe(s1Calls);
      expect(s1.server.connectionCount).toBe(1);

      gate.resolve();
      expect(await within(gateCall as Promise<unknown>, 2000, 'the drained call')).toBe('s1 drained');
      // Drained, then closed.
      await within(waitFor(() => s1.server.connectionCount === 0), 2000, "s1's connection to close");
      const results = await within(load.stop(), 5000, 'every call to settle');
      expect(failureCodes(results)).toEqual({});
    } finally {
      await client.close();
      await close();
    }
  });

  it('a resolver that fails keeps the endpoints it last returned, and reports the error', async () => {
    const { servers, port, close } = await loopbackServers(1, (server, self) => server.handle('work', () => self.name));
    let fail = false;
    const errors: unknown[] = [];
    const client = new RpcClient({
      resolver: async () => {
        if (fail) throw Object.assign(new Error('discovery down'), { code: 'EDISCOVERY' });
        return endpointsOf(servers, port);
      },
      resolveIntervalMs: 50,
    });
    client.on('error', (err) => errors.push(err));
    try {
      expect(await client.call('work', null)).toBe('s1');
      fail = true;
      await within(waitFor(() => errors.length > 0), 2000, 'a failed resolution');
      expect(await client.call('work', null)).toBe('s1');
    } finally {
      await client.close();
      await close();
    }
  });
});

describe('DNS endpoints', () => {
  it("{ dns: 'localhost', port } reaches a server on localhost's address", async () => {
    const seen: (string | undefined)[] = [];
    const { port, close } = await loopbackServers(1, (server) =>
      server.handle('where', (_data, ctx: CallContext) => {
        seen.push(ctx.peer.remoteAddress);
        return 'here';
      }),
    );
    const client = new RpcClient({ endpoints: { dns: 'localhost', port }, reconnect: quickReconnect });
    try {
      // localhost may also resolve to ::1, where nothing listens: that endpoint fails, calls go to 127.0.0.1.
      for (let i = 0; i < 5; i++) expect(await client.call('where', null, { timeoutMs: 5000 })).toBe('here');
      expect(client.status).toBe('connected');
      expect(seen).toHaveLength(5);
    } finally {
      await client.close();
      await close();
    }
  });

  it('a name that does not resolve fails the call with the lookup error', async () => {
    const client = new RpcClient({ endpoints: [{ dns: 'no-such-host.invalid', port: 4000 }] });
    try {
      await expect(client.call('where', null)).rejects.toMatchObject({ code: expect.stringMatching(/^(ENOTFOUND|EAI_AGAIN)$/) });
    } finally {
      await client.close();
    }
  });
});
