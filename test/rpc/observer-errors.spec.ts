import { ControlCode, RpcClient } from '../../src/rpc/index.js';
import { deferred } from '../helpers/async.js';
import { codeOf, rejection } from '../helpers/errors.js';
import { unusedPort } from '../helpers/net.js';
import { rpcPair } from './support.js';

/** The caller's observer is user code: a throw from it fails that one call, never the connection. */
describe('a throwing observer', () => {
  it('in next(): that call fails with ERR_OBSERVER and is cancelled; the other calls and the connection go on', async () => {
    const cancelled = deferred<string | undefined>();
    const { client, dispose } = await rpcPair((server) =>
      server
        .handle('stream', (_data, ctx) => {
          ctx.signal.addEventListener('abort', () => cancelled.resolve((ctx.signal.reason as { code?: string }).code));
          return (async function* () {
            for (let i = 0; ; i++) {
              yield i;
              await new Promise((resolve) => setImmediate(resolve));
            }
          })();
        })
        .handle('echo', (data) => data),
    );
    try {
      await client.connect();
      const conn = client.currentSession?.conn;
      const failed = deferred<Error>();
      client.open('stream', null, {
        next: () => {
          throw new Error('observer bug');
        },
        error: (err) => failed.resolve(err),
        complete: () => failed.reject(new Error('completed')),
      });
      const error = await failed.promise;
      expect(codeOf(error)).toBe('ERR_OBSERVER');
      expect((error.cause as Error).message).toBe('observer bug');
      await expect(cancelled.promise).resolves.toBe('ERR_CANCELLED');
      await expect(client.call('echo', 'still here')).resolves.toBe('still here');
      expect(client.currentSession?.conn).toBe(conn);
      expect(conn?.state).toBe('open');
    } finally {
      await dispose();
    }
  });

  it('in next() of a unary reply: the observer gets error(ERR_OBSERVER) as its one terminal call', async () => {
    const { client, dispose } = await rpcPair((server) => server.handle('echo', (data) => data));
    try {
      const failed = deferred<Error>();
      client.open('echo', 1, {
        next: () => {
          throw new Error('observer bug');
        },
        error: (err) => failed.resolve(err),
        complete: () => failed.reject(new Error('completed')),
      });
      expect(codeOf(await failed.promise)).toBe('ERR_OBSERVER');
      await expect(client.call('echo', 2)).resolves.toBe(2);
    } finally {
      await dispose();
    }
  });

  it('in complete(): reported as the client\'s "error" event (ERR_OBSERVER); the connection goes on', async () => {
    const { client, dispose } = await rpcPair((server) => server.handle('echo', (data) => data));
    try {
      const reported = deferred<Error>();
      client.on('error', (err) => reported.resolve(err));
      await client.connect();
      const conn = client.currentSession?.conn;
      client.open('echo', 1, {
        next: () => {},
        error: () => {},
        complete: () => {
          throw new Error('complete bug');
        },
      });
      expect(codeOf(await reported.promise)).toBe('ERR_OBSERVER');
      await expect(client.call('echo', 2)).resolves.toBe(2);
      expect(client.currentSession?.conn).toBe(conn);
    } finally {
      await dispose();
    }
  });
});

describe('a throwing observer of a call that waited for a connection', () => {
  it('in error(): reported as the client\'s "error" event (ERR_OBSERVER); the other waiting calls still get their error', async () => {
    const client = new RpcClient({ port: await unusedPort(), reconnect: false });
    const reported = deferred<Error>();
    client.on('error', (err) => {
      if (codeOf(err) === 'ERR_OBSERVER') reported.resolve(err);
    });
    try {
      client.open('echo', 1, {
        next: () => {},
        complete: () => {},
        error: () => {
          throw new Error('error bug');
        },
      });
      const other = rejection(client.call('echo', 2));
      expect(codeOf(await other)).toBe('ECONNREFUSED');
      const error = await reported.promise;
      expect((error.cause as Error).message).toBe('error bug');
    } finally {
      await client.close();
    }
  });
});

describe('a Ping from the server while the client closes its connection', () => {
  it('is not answered and does not throw inside the reactor: the connection closes cleanly', async () => {
    const { client, dispose } = await rpcPair((server) => server.handle('echo', (data) => data));
    try {
      await client.connect();
      const session = client.currentSession;
      if (session === undefined) throw new Error('not connected');
      const closing = session.conn.close();
      expect(session.conn.state).toBe('closing');
      expect(() => session.onMessage({ id: 7, code: ControlCode.Ping })).not.toThrow();
      await closing;
      await expect(session.conn.closed).resolves.toBeUndefined();
    } finally {
      await dispose();
    }
  });
});
