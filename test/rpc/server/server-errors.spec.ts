import { ControlCode, RpcServer, type CallContext, type RpcFrame } from '../../../src/rpc/index.js';
import { deferred, within } from '../../helpers/async.js';
import { rejection } from '../../helpers/errors.js';
import { frameClient, rpcPair } from '../support.js';

const is = (id: number, code: ControlCode) => (frame: RpcFrame) => frame.id === id && frame.code === code;

describe('error bodies the server generates', () => {
  it('go through serializeError: ERR_NO_HANDLER and ERR_DUPLICATE_ID as the option shapes them', async () => {
    const gate = deferred<string>();
    const pair = await rpcPair((server) => server.handle('gate', () => gate.promise), {
      server: { serializeError: (err) => ({ shaped: true, code: (err as { code?: unknown }).code, message: (err as Error).message }) },
    });
    const { conn, inbox } = await frameClient(pair.port);
    try {
      conn.send({ id: 1, code: ControlCode.Normal, pattern: 'nope', data: null });
      expect((await within(inbox.next(is(1, ControlCode.Error)), 2000, 'the refusal')).data).toEqual({
        shaped: true,
        code: 'ERR_NO_HANDLER',
        message: 'no handler for pattern nope',
      });
      conn.send({ id: 2, code: ControlCode.Normal, pattern: 'gate', data: null });
      conn.send({ id: 2, code: ControlCode.Normal, pattern: 'gate', data: null });
      expect((await within(inbox.next(is(2, ControlCode.Error)), 2000, 'the refusal')).data).toEqual({
        shaped: true,
        code: 'ERR_DUPLICATE_ID',
        message: 'call id 2 is already in flight',
      });
      gate.resolve('done');
      await within(inbox.next(is(2, ControlCode.Reply)), 2000, 'the first call to reply');
    } finally {
      conn.destroy();
      await pair.dispose();
    }
  });

  it('carry the error class name with the default serializeError', async () => {
    const pair = await rpcPair(() => {});
    const { conn, inbox } = await frameClient(pair.port);
    try {
      conn.send({ id: 1, code: ControlCode.Normal, pattern: 'nope', data: null });
      expect((await within(inbox.next(is(1, ControlCode.Error)), 2000, 'the refusal')).data).toEqual({
        name: 'NoHandlerError',
        code: 'ERR_NO_HANDLER',
        message: 'no handler for pattern nope',
      });
    } finally {
      conn.destroy();
      await pair.dispose();
    }
  });
});

describe('RpcServer misuse', () => {
  it('listen twice, listen after close and unwrap before listen throw ERR_SERVER_STATE', async () => {
    const server = new RpcServer();
    expect(() => server.unwrap()).toThrow(expect.objectContaining({ code: 'ERR_SERVER_STATE', name: 'ServerStateError' }));
    await server.listen();
    expect(await rejection(server.listen())).toMatchObject({ code: 'ERR_SERVER_STATE', message: 'already listening' });
    await server.close();
    const closed = new RpcServer();
    await closed.close();
    expect(await rejection(closed.listen())).toMatchObject({ code: 'ERR_SERVER_STATE', message: 'server is closed' });
  });
});

describe('CallContext', () => {
  it('gives a handler no way to abort its own call', async () => {
    const seen = deferred<CallContext>();
    const pair = await rpcPair((server) =>
      server.handle('look', (_data, ctx) => {
        seen.resolve(ctx);
        return 'ok';
      }),
    );
    try {
      await pair.client.connect();
      expect(await pair.client.call('look', null)).toBe('ok');
      const ctx = await seen.promise;
      expect('abort' in ctx).toBe(false);
      expect(ctx.aborted).toBe(false);
      expect(ctx.signal.aborted).toBe(false);
    } finally {
      await pair.dispose();
    }
  });
});
