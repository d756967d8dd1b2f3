import { ControlCode, RpcClient, RpcServer, type RpcFrame, type RpcServerOptions } from '../../src/rpc/index.js';
import { deferred, within } from '../helpers/async.js';
import { codeOf, rejection } from '../helpers/errors.js';
import { unusedPort } from '../helpers/net.js';
import { frameClient, nextStatus, rpcPair } from './support.js';

/** Fast background reconnects, so a restart is noticed quickly. */
const quickReconnect = { initialDelayMs: 10, maxDelayMs: 50 };

function echoServer(options?: RpcServerOptions): RpcServer {
  return new RpcServer(options).handle('echo', (data) => data);
}

describe('client lifecycle', () => {
  it('a call with no server listening rejects promptly with ECONNREFUSED', async () => {
    const port = await unusedPort();
    const client = new RpcClient({ port });
    try {
      const err = await within(rejection(client.call('echo', 1)), 2000, 'the call to fail');
      expect(codeOf(err)).toBe('ECONNREFUSED');
      // Never connected: nothing to reconnect to in the background.
      expect(client.status).toBe('idle');
    } finally {
      await client.close();
    }
  });

  it('reconnects in the background when the server restarts on the same port', async () => {
    const first = echoServer();
    await first.listen();
    const port = first.port as number;
    const client = new RpcClient({ port, reconnect: quickReconnect });
    let second: RpcServer | undefined;
    try {
      expect(await client.call('echo', 'one')).toBe('one');

      const disconnected = nextStatus(client, 'disconnected');
      await first.close();
      // The server is gone; the client keeps trying.
      await within(disconnected, 2000, 'the client to report the connection lost');

      second = echoServer({ port });
      const connected = nextStatus(client, 'connected');
      await second.listen();
      await within(connected, 2000, 'the background reconnect');
      expect(await client.call('echo', 'two')).toBe('two');
    } finally {
      await client.close();
      await second?.close();
    }
  });

  it('close() waits for calls in flight, then closes; later calls open a new connection (as Transport.TCP after close)', async () => {
    const gate = deferred<string>();
    const started = deferred();
    const { client, dispose } = await rpcPair((server) =>
      server.handle('gate', () => {
        started.resolve();
        return gate.promise;
      }),
    );
    try {
      const order: string[] = [];
      const call = client.call('gate', null).then((value) => {
        order.push('call');
        return value;
      });
      await started.promise;
      const conn = client.currentSession?.conn;
      const closing = client.close().then(() => order.push('closed'));

      expect(client.status).toBe('closed');
      // A call after close() is not refused: it goes to a new connection.
      await expect(client.ping()).resolves.toEqual(expect.any(Number));
      expect(client.status).toBe('connected');
      expect(client.currentSession?.conn).not.toBe(conn);
      // The old connection is still open for the call close() is waiting for.
      expect(conn?.state).toBe('open');

      gate.resolve('finished');
      expect(await call).toBe('finished');
      await closing;
      expect(order).toEqual(['call', 'closed']);
      expect(conn?.state).toBe('closed');
      await client.close();
    } finally {
      await dispose();
    }
  });

  it('close() during a connect attempt fails the calls waiting on it with ERR_CLIENT_CLOSED; the next call connects', async () => {
    const { client, dispose } = await rpcPair((server) => server.handle('echo', (data) => data));
    try {
      await client.close();
      const waiting = client.call('echo', 'first');
      expect(client.status).toBe('connecting');
      void client.close();
      expect(codeOf(await rejection(waiting))).toBe('ERR_CLIENT_CLOSED');
      expect(await client.call('echo', 'second')).toBe('second');
    } finally {
      await client.close();
      await dispose();
    }
  });

  it('close(timeoutMs) gives up on calls that outlast it: they fail with ERR_CONNECTION_CLOSED', async () => {
    const { client, dispose } = await rpcPair((server) =>
      server.handle('hang', (_data, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))),
    );
    try {
      const call = rejection(client.call('hang', null));
      await client.connect();
      await client.close(50);
      expect(codeOf(await call)).toBe('ERR_CONNECTION_CLOSED');
    } finally {
      await dispose();
    }
  });

  it('the closeTimeoutMs option is close()\'s default timeout', async () => {
    const { client, dispose } = await rpcPair(
      (server) => server.handle('hang', (_data, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))),
      { client: { closeTimeoutMs: 50 } },
    );
    try {
      const call = rejection(client.call('hang', null));
      await client.connect();
      await client.close();
      expect(codeOf(await call)).toBe('ERR_CONNECTION_CLOSED');
    } finally {
      await dispose();
    }
  });
});

describe('server close()', () => {
  it('sends GoAway; a call in flight completes within the drain timeout; a new call fails cleanly', async () => {
    const gate = deferred<string>();
    const started = deferred();
    const { server, client, port, dispose } = await rpcPair((s) =>
      s
        .handle('gate', () => {
          started.resolve();
          return gate.promise;
        })
        .handle('echo', (data) => data),
    );
    const observer = await frameClient(port);
    try {
      const inFlight = client.call('gate', null);
      await started.promise;
      const retired = nextStatus(client, 'connecting');
      const closing = server.close(5000);

      const goAway = await within(observer.inbox.next((frame: RpcFrame) => frame.code === ControlCode.GoAway), 2000, 'GoAway');
      expect(goAway.id).toBe(0);
      // The client saw the GoAway too: it retired the connection and is looking for a new one.
      await within(retired, 2000, 'the client to retire its connection');

      // Observed: the server stopped accepting before it sent GoAway, so the new connection the
      // call needs is refused and the call fails at once; it does not go to the draining one.
      const late = await within(rejection(client.call('echo', 'late')), 2000, 'the late call');
      expect(codeOf(late)).toBe('ECONNREFUSED');

      gate.resolve('drained');
      expect(await within(inFlight, 2000, 'the call in flight')).toBe('drained');
      await within(closing, 5000, 'server.close()');
    } finally {
      observer.conn.destroy();
      await dispose();
    }
  });

  it('a call that outlasts the drain timeout fails with ERR_SHUTTING_DOWN and its handler is aborted', async () => {
    const aborted = deferred<unknown>();
    const started = deferred();
    const { server, client, dispose } = await rpcPair((s) =>
      s.handle('hang', (_data, ctx) => {
        started.resolve();
        return new Promise((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            aborted.resolve(ctx.signal.reason);
            resolve(null);
          }),
        );
      }),
    );
    try {
      const call = rejection(client.call('hang', null));
      await started.promise;
      await within(server.close(50), 5000, 'server.close()');

      expect(await call).toMatchObject({ code: 'ERR_REMOTE', remoteCode: 'ERR_SHUTTING_DOWN' });
      expect(await within(aborted.promise, 2000, 'the handler to be aborted')).toMatchObject({ code: 'ERR_SHUTTING_DOWN' });
    } finally {
      await dispose();
    }
  });

  it('the drainTimeoutMs option is close()\'s default drain timeout', async () => {
    const started = deferred();
    const { server, client, dispose } = await rpcPair(
      (s) =>
        s.handle('hang', (_data, ctx) => {
          started.resolve();
          return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(null)));
        }),
      { server: { drainTimeoutMs: 50 } },
    );
    try {
      const call = rejection(client.call('hang', null));
      await started.promise;
      await within(server.close(), 5000, 'server.close()');
      expect(await call).toMatchObject({ code: 'ERR_REMOTE', remoteCode: 'ERR_SHUTTING_DOWN' });
    } finally {
      await dispose();
    }
  });
});
