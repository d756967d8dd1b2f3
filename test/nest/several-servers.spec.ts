/**
 * ProtosocketClient over several servers: the RPC client's endpoints and balancer under Nest's
 * ClientProxy, per-call options through `send`'s third argument, and close() not terminal.
 */
import 'reflect-metadata';
import { lastValueFrom } from 'rxjs';
import { ProtosocketClient } from '../../src/nest/index.js';
import { endpointsOf, loopbackServers, quickReconnect } from '../rpc/balancing-support.js';

describe('ProtosocketClient with endpoints', () => {
  it('spreads sends over the servers, honours affinityKey / waitForReady / retry per call, and reconnects to all after close()', async () => {
    const { servers, port, close } = await loopbackServers(2, (server, self) =>
      server.handle('who', () => {
        self.calls++;
        return self.name;
      }),
    );
    const client = new ProtosocketClient({ endpoints: endpointsOf(servers, port), balancer: 'round-robin', reconnect: quickReconnect });
    try {
      await client.connect();
      // One key, one server, with the other per-call options alongside.
      const keyed = await Promise.all(
        Array.from({ length: 6 }, () => lastValueFrom(client.send<string>('who', 0, { affinityKey: 'user-1', waitForReady: true, retry: { attempts: 2 } }))),
      );
      expect(new Set(keyed).size).toBe(1);

      await client.close();
      // Not terminal: sends after close() go out on new connections, to both servers.
      const names = new Set<string>();
      for (let i = 0; i < 20 && names.size < 2; i++) names.add(await lastValueFrom(client.send<string>('who', 0)));
      expect([...names].sort()).toEqual(['s1', 's2']);
    } finally {
      await client.close();
      await close();
    }
  });
});
