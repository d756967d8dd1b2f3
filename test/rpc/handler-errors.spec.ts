import { ControlCode, RemoteError, RpcClient } from '../../src/rpc/index.js';
import { deferred, nextTurn, within } from '../helpers/async.js';
import { codeOf, rejection } from '../helpers/errors.js';
import { frameServer, rpcPair, type FrameConnection, type RpcPair } from './support.js';

class CodedError extends Error {
  readonly code = 'E_TEAPOT';
}

describe('handler errors become error replies; the connection stays up', () => {
  let pair: RpcPair;

  beforeAll(async () => {
    pair = await rpcPair((server) =>
      server
        .handle('echo', (data) => data)
        .handle('throws', () => {
          throw new Error('boom');
        })
        .handle('rejects', async () => {
          await nextTurn();
          throw new CodedError('short and stout');
        })
        .handle('throws a string', () => {
          throw 'plain words';
        })
        .handle('bigint', () => 10n)
        .handle('async bigint', async () => ({ big: 10n }))
        .handle('stream with a bigint', async function* () {
          yield 1;
          yield 2n;
          yield 3;
        })
        .handle('throws a bigint', () => {
          throw { big: 1n };
        })
        .handle('rejects with a cycle', async () => {
          const body: { self?: unknown } = {};
          body.self = body;
          throw body;
        }),
    );
    await pair.client.connect();
  });

  afterAll(() => pair.dispose());

  /** The call's rejection, checked to be a RemoteError. */
  async function remoteError(pattern: string): Promise<RemoteError> {
    const err = await rejection(pair.client.call(pattern, null));
    expect(err).toBeInstanceOf(RemoteError);
    return err as RemoteError;
  }

  afterEach(async () => {
    // Whatever the handler did, the same connection still serves calls.
    const session = pair.client.currentSession;
    expect(await pair.client.call('echo', 'still up')).toBe('still up');
    expect(pair.client.currentSession).toBe(session);
  });

  it('a thrown Error: RemoteError with its message', async () => {
    const err = await remoteError('throws');
    expect(err.code).toBe('ERR_REMOTE');
    expect(err.message).toBe('boom');
    expect(err.remoteCode).toBeUndefined();
    expect(err.body).toEqual({ name: 'Error', message: 'boom' });
  });

  it('a rejection with a coded Error: its code is the remoteCode', async () => {
    const err = await remoteError('rejects');
    expect(err.message).toBe('short and stout');
    expect(err.remoteCode).toBe('E_TEAPOT');
  });

  it('a thrown string: the message is the string', async () => {
    const err = await remoteError('throws a string');
    expect(err.message).toBe('plain words');
    expect(err.body).toBe('plain words');
  });

  it.each(['bigint', 'async bigint'])('a reply JSON cannot encode (%s): ERR_ENCODE', async (pattern) => {
    const err = await remoteError(pattern);
    expect(err.remoteCode).toBe('ERR_ENCODE');
  });

  it('a stream item JSON cannot encode: the items before it, then ERR_ENCODE', async () => {
    const items: unknown[] = [];
    const err = await rejection(
      (async () => {
        for await (const item of pair.client.stream('stream with a bigint', null)) items.push(item);
      })(),
    );
    expect(items).toEqual([1]);
    expect(err).toMatchObject({ code: 'ERR_REMOTE', remoteCode: 'ERR_ENCODE' });
  });

  it.each(['throws a bigint', 'rejects with a cycle'])('an error body JSON cannot encode (%s): ERR_ENCODE', async (pattern) => {
    const err = await remoteError(pattern);
    expect(err.remoteCode).toBe('ERR_ENCODE');
  });
});

describe('ping', () => {
  it('returns a finite round trip time in ms', async () => {
    const { client, dispose } = await rpcPair(() => {});
    try {
      const rtt = await client.ping();
      expect(Number.isFinite(rtt)).toBe(true);
      expect(rtt).toBeGreaterThanOrEqual(0);
      expect(rtt).toBeLessThan(1000);
      const concurrent = await Promise.all([client.ping(), client.ping(), client.ping()]);
      expect(concurrent.every((ms) => Number.isFinite(ms) && ms >= 0)).toBe(true);
    } finally {
      await dispose();
    }
  });

  it('a ping the connection closes under rejects with ERR_CONNECTION_CLOSED instead of resolving NaN', async () => {
    const pinged = deferred<FrameConnection>();
    // A server that never answers pings.
    const fake = await frameServer((frame, conn) => {
      if (frame.code === ControlCode.Ping) pinged.resolve(conn);
    });
    const client = new RpcClient({ port: fake.port, reconnect: false });
    try {
      const ping = rejection(client.ping());
      (await within(pinged.promise, 2000, 'the ping to arrive')).destroy();
      expect(codeOf(await within(ping, 2000, 'the ping to settle'))).toBe('ERR_CONNECTION_CLOSED');
    } finally {
      await client.close();
      await fake.close();
    }
  });
});
