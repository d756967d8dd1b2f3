/** Servers on several loopback addresses and load to spread over them, for the balancing specs. */
import type net from 'node:net';
import { RpcServer } from '../../src/rpc/index.js';
import { deferred } from '../helpers/async.js';

/** Fast background reconnects, so a server coming or going is noticed quickly. */
export const quickReconnect = { initialDelayMs: 10, maxDelayMs: 100 };

export interface LoopbackServer {
  readonly name: string;
  readonly host: string;
  readonly server: RpcServer;
  /** Calls its handlers started. */
  calls: number;
  /** Its accepted sockets. */
  readonly sockets: net.Socket[];
}

/**
 * `count` RpcServers on 127.0.0.1, 127.0.0.2, ... and the same port (the whole 127.0.0.0/8
 * reaches loopback on Linux), each set up by `setup`. `calls` counts the handlers started
 * (setup calls `started` from its handlers).
 */
export async function loopbackServers(
  count: number,
  setup: (server: RpcServer, self: LoopbackServer) => void,
  /** The port; 0 (default): a free one. */
  fixedPort = 0,
): Promise<{ servers: LoopbackServer[]; port: number; close(): Promise<void> }> {
  for (let tries = 0; ; tries++) {
    const servers: LoopbackServer[] = [];
    try {
      let port = fixedPort;
      for (let i = 0; i < count; i++) {
        const host = `127.0.0.${i + 1}`;
        const self: LoopbackServer = { name: `s${i + 1}`, host, server: new RpcServer({ host, port }), calls: 0, sockets: [] };
        setup(self.server, self);
        servers.push(self);
        await self.server.listen();
        self.server.unwrap().on('connection', (socket: net.Socket) => self.sockets.push(socket));
        port = self.server.port as number;
      }
      return { servers, port, close: () => closeAll(servers) };
    } catch (err) {
      await closeAll(servers);
      // The port the first one got may be taken on another address: try another.
      if ((err as { code?: string }).code !== 'EADDRINUSE' || fixedPort !== 0 || tries >= 5) throw err;
    }
  }
}

async function closeAll(servers: readonly LoopbackServer[]): Promise<void> {
  await Promise.all(servers.map(({ server }) => server.close(200).catch(() => {})));
}

export function endpointsOf(servers: readonly LoopbackServer[], port: number): string[] {
  return servers.map(({ host }) => `${host}:${port}`);
}

/** Runs `total` calls, `concurrency` at a time; resolves with every outcome (never rejects). */
export async function runLoad<T>(total: number, concurrency: number, call: (index: number) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  const results: PromiseSettledResult<T>[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await call(index) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/** Load that runs until `stop()`: `concurrency` loops of `call`; `completed` counts settled calls. */
export function continuousLoad<T>(
  concurrency: number,
  call: (index: number) => Promise<T>,
): {
  completed(): number;
  /** The outcomes so far. */
  outcomes(): PromiseSettledResult<T>[];
  whenCompleted(count: number): Promise<void>;
  stop(): Promise<PromiseSettledResult<T>[]>;
} {
  const results: PromiseSettledResult<T>[] = [];
  let next = 0;
  let stopped = false;
  let waiters: { count: number; resolve: () => void }[] = [];
  const settled = (result: PromiseSettledResult<T>): void => {
    results.push(result);
    waiters = waiters.filter((waiter) => {
      if (results.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  };
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const index = next++;
      try {
        settled({ status: 'fulfilled', value: await call(index) });
      } catch (reason) {
        settled({ status: 'rejected', reason });
      }
    }
  };
  const running = Promise.all(Array.from({ length: concurrency }, worker));
  return {
    completed: () => results.length,
    outcomes: () => [...results],
    whenCompleted(count) {
      if (results.length >= count) return Promise.resolve();
      const reached = deferred();
      waiters.push({ count, resolve: reached.resolve });
      return reached.promise;
    },
    async stop() {
      stopped = true;
      await running;
      return results;
    },
  };
}

/** The error codes of the rejected outcomes, counted. */
export function failureCodes(results: readonly PromiseSettledResult<unknown>[]): Record<string, number> {
  const codes: Record<string, number> = {};
  for (const result of results) {
    if (result.status !== 'rejected') continue;
    const code = String((result.reason as { code?: unknown }).code ?? result.reason);
    codes[code] = (codes[code] ?? 0) + 1;
  }
  return codes;
}
