import type net from 'node:net';
import type { CallContext } from '../../src/rpc/index.js';
import { ControlCode } from '../../src/rpc/index.js';
import { deferred, within } from '../helpers/async.js';
import { frameClient, rpcPair } from './support.js';

/** Resolves once the only server-side socket has seen the client's FIN. */
function serverSawFin(sockets: readonly net.Socket[]): Promise<void> {
  expect(sockets).toHaveLength(1);
  return new Promise((resolve) => (sockets[0] as net.Socket).once('end', () => resolve()));
}

describe("after the client's FIN (half-close)", () => {
  it('a request, then FIN, then an async reply: the reply arrives before the server ends its side', async () => {
    const answer = deferred<string>();
    const { port, serverSockets, dispose } = await rpcPair((server) => server.handle('slow', () => answer.promise));
    const { conn, inbox } = await frameClient(port);
    try {
      conn.send({ id: 1, code: ControlCode.Normal, pattern: 'slow', data: null });
      const fin = serverSawFin(serverSockets);
      // Our side is done sending: FIN after the request. The connection still reads.
      void conn.close();
      await within(fin, 5000, 'the server to see the FIN');
      answer.resolve('late but here');
      expect(await within(inbox.next((frame) => frame.id === 1), 5000, 'the reply')).toMatchObject({ code: ControlCode.Reply, data: 'late but here' });
      // Then the server ends its side too, and the connection closes cleanly.
      expect(await within(inbox.closed, 5000, 'the connection to close')).toBeUndefined();
    } finally {
      conn.destroy();
      await dispose();
    }
  });

  it('the replies it owes are bounded by drainTimeoutMs: a call still running then is aborted', async () => {
    const aborted = deferred<unknown>();
    const { port, serverSockets, dispose } = await rpcPair(
      (server) =>
        server.handle('never', (_data, context: CallContext) => {
          context.signal.addEventListener('abort', () => aborted.resolve(context.signal.reason));
          return new Promise(() => {});
        }),
      { server: { drainTimeoutMs: 50 } },
    );
    const { conn, inbox } = await frameClient(port);
    try {
      conn.send({ id: 1, code: ControlCode.Normal, pattern: 'never', data: null });
      const fin = serverSawFin(serverSockets);
      void conn.close();
      await within(fin, 5000, 'the server to see the FIN');
      expect(await within(aborted.promise, 5000, 'the handler to be aborted')).toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
      await within(inbox.closed, 5000, 'the connection to close');
      // The probes are Pongs with id 0, which a client ignores.
      expect(inbox.frames.every((frame) => frame.code === ControlCode.Pong && frame.id === 0)).toBe(true);
    } finally {
      conn.destroy();
      await dispose();
    }
  });
});
