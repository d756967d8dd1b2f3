/**
 * How a server retires connections without losing calls: GoAway with the highest call id it
 * accepted, ERR_REFUSED for requests after it, and the options that send it on their own
 * (maxConnectionAgeMs with maxConnectionAgeGraceMs, idleTimeoutMs). Real loopback sockets.
 */
import type net from 'node:net';
import { ControlCode, RemoteError, type RpcFrame } from '../../../src/rpc/index.js';
import { deferred, within } from '../../helpers/async.js';
import { Cleanup } from '../../helpers/cleanup.js';
import { codeOf, rejection } from '../../helpers/errors.js';
import { whenClosed } from '../../helpers/net.js';
import { frameClient, rpcPair } from '../support.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const isGoAway = (frame: RpcFrame): boolean => frame.code === ControlCode.GoAway;

describe('GoAway on the wire', () => {
  it('carries the highest call id accepted; later requests get ERR_REFUSED; calls accepted still finish', async () => {
    const gate = deferred<string>();
    const started = deferred();
    let handled = 0;
    const { server, port, dispose } = await rpcPair((s) =>
      s
        .handle('gate', () => {
          handled++;
          started.resolve();
          return gate.promise;
        })
        .handle('echo', (data) => {
          handled++;
          return data;
        }),
    );
    cleanup.add(dispose);
    const { conn, inbox } = await frameClient(port);
    cleanup.add(() => conn.destroy());

    conn.send({ id: 5, code: ControlCode.Normal, pattern: 'gate', data: null });
    conn.send({ id: 3, code: ControlCode.Normal, pattern: 'echo', data: 'three' });
    expect(await inbox.next((frame) => frame.id === 3)).toMatchObject({ code: ControlCode.Reply, data: 'three' });
    await started.promise;

    const closing = server.close(5000);
    // The highest id, not the last one: a client's calls with a higher id never reached a handler.
    expect(await within(inbox.next(isGoAway), 2000, 'GoAway')).toEqual({ id: 5, code: ControlCode.GoAway });

    conn.send({ id: 9, code: ControlCode.Normal, pattern: 'echo', data: 'too late' });
    const refused = await within(inbox.next((frame) => frame.id === 9), 2000, 'the refusal');
    expect(refused).toMatchObject({ code: ControlCode.Error, data: { name: 'RefusedError', code: 'ERR_REFUSED' } });
    expect(handled).toBe(2);

    gate.resolve('accepted, so finished');
    expect(await within(inbox.next((frame) => frame.id === 5), 2000, 'the call accepted')).toMatchObject({
      code: ControlCode.Reply,
      data: 'accepted, so finished',
    });
    conn.destroy();
    await within(closing, 5000, 'server.close()');
  });

  it('the refusal body is ERR_REFUSED whatever serializeError makes of errors', async () => {
    const started = deferred();
    const { server, port, dispose } = await rpcPair(
      (s) =>
        s.handle('gate', () => {
          started.resolve();
          return new Promise(() => {});
        }),
      { server: { serializeError: () => 'opaque' } },
    );
    cleanup.add(dispose);
    const { conn, inbox } = await frameClient(port);
    cleanup.add(() => conn.destroy());
    conn.send({ id: 1, code: ControlCode.Normal, pattern: 'gate', data: null });
    await started.promise;
    void server.close(200);
    await within(inbox.next(isGoAway), 2000, 'GoAway');
    conn.send({ id: 2, code: ControlCode.Normal, pattern: 'gate', data: null });
    expect((await within(inbox.next((frame) => frame.id === 2), 2000, 'the refusal')).data).toMatchObject({ code: 'ERR_REFUSED' });
  });

  it('an RpcClient call refused fails with RemoteError remoteCode ERR_REFUSED, and the session knows goAwayLastId', async () => {
    const gate = deferred<string>();
    const started = deferred();
    const { server, client, dispose } = await rpcPair((s) =>
      s.handle('gate', () => {
        started.resolve();
        return gate.promise;
      }),
    );
    cleanup.add(dispose);
    const first = client.call('gate', null);
    await started.promise;
    const session = client.currentSession;
    expect(session?.goAwayLastId).toBeUndefined();
    // A request sent on the draining connection before the client read the GoAway, as one that crossed it would be.
    const closing = server.close(5000);
    await within(
      new Promise<void>((resolve) => client.once('status', () => resolve())),
      2000,
      'the client to see GoAway',
    );
    expect(session?.goAwayLastId).toBe(1);
    const crossed = new Promise<unknown>((resolve) => session?.start('gate', null, { next() {}, complete: () => resolve(undefined), error: resolve }, undefined));
    const refused = await within(crossed, 2000, 'the refusal');
    expect(refused).toBeInstanceOf(RemoteError);
    expect(refused).toMatchObject({ remoteCode: 'ERR_REFUSED' });
    gate.resolve('done');
    expect(await first).toBe('done');
    await within(closing, 5000, 'server.close()');
  });
});

describe('maxConnectionAgeMs', () => {
  it('moves a client with steady calls to new connections, and no call is lost or runs twice', async () => {
    let handled = 0;
    const { client, serverSockets, dispose } = await rpcPair(
      (s) =>
        s.handle('echo', (data) => {
          handled++;
          return data;
        }),
      { server: { maxConnectionAgeMs: 100 } },
    );
    cleanup.add(dispose);
    const moved = deferred();
    let succeeded = 0;
    let refused = 0;
    const failures: unknown[] = [];
    let stop = false;
    // Four callers in a loop. A call that crossed the GoAway on the wire is refused with
    // ERR_REFUSED (it never reached a handler) and sent again, as the client's transparent
    // retry does; any other failure is a lost call.
    const caller = async (n: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        try {
          expect(await client.call('echo', `${n}:${i}`)).toBe(`${n}:${i}`);
          succeeded++;
        } catch (err) {
          if ((err as RemoteError).remoteCode === 'ERR_REFUSED') refused++;
          else failures.push(err);
        }
        if (serverSockets.length >= 4) moved.resolve();
      }
    };
    const callers = [0, 1, 2, 3].map(caller);
    await within(moved.promise, 10_000, 'the client to move over three new connections');
    stop = true;
    await Promise.all(callers);

    expect(failures).toEqual([]);
    expect(handled).toBe(succeeded);
    expect(succeeded).toBeGreaterThan(0);
    // The retired connections closed once their calls were done: at most the current one and one draining remain.
    await within(Promise.all(serverSockets.slice(0, -2).map(whenClosed)), 5000, 'the old connections to close');
  });

  it('maxConnectionAgeGraceMs: a call still running after it fails with ERR_SHUTTING_DOWN and the connection closes', async () => {
    const aborted = deferred<unknown>();
    const started = deferred();
    const { client, serverSockets, dispose } = await rpcPair(
      (s) =>
        s.handle('hang', (_data, ctx) => {
          started.resolve();
          return new Promise(() => ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.reason)));
        }),
      { server: { maxConnectionAgeMs: 100, maxConnectionAgeGraceMs: 100 } },
    );
    cleanup.add(dispose);
    const call = rejection(client.call('hang', null));
    await started.promise;
    const first = serverSockets[0] as net.Socket;

    expect(await within(call, 5000, 'the call to fail')).toMatchObject({ code: 'ERR_REMOTE', remoteCode: 'ERR_SHUTTING_DOWN' });
    expect(codeOf(await aborted.promise)).toBe('ERR_SHUTTING_DOWN');
    await within(whenClosed(first), 5000, 'the old connection to close');
  });
});

describe('idleTimeoutMs', () => {
  it('sends GoAway to a connection with no call and no frame, then closes it', async () => {
    const { port, dispose } = await rpcPair((s) => s.handle('echo', (data) => data), { server: { idleTimeoutMs: 100 } });
    cleanup.add(dispose);
    const { conn, inbox } = await frameClient(port);
    cleanup.add(() => conn.destroy());
    conn.send({ id: 1, code: ControlCode.Normal, pattern: 'echo', data: 'once' });
    expect(await inbox.next((frame) => frame.id === 1)).toMatchObject({ data: 'once' });

    const goAway = await within(inbox.next(isGoAway), 5000, 'GoAway');
    expect(goAway.id).toBe(1);
    expect(inbox.isOpen).toBe(true);
    // This hand-driven client does not close on GoAway; the server does, at its next idle look.
    expect(await within(inbox.closed, 5000, 'the connection to close')).toBeUndefined();
  });

  it('an RpcClient whose connection idled out goes on calling on a new one', async () => {
    const { client, serverSockets, dispose } = await rpcPair((s) => s.handle('echo', (data) => data), {
      server: { idleTimeoutMs: 100 },
    });
    cleanup.add(dispose);
    expect(await client.call('echo', 1)).toBe(1);
    await within(whenClosed(serverSockets[0] as net.Socket), 5000, 'the idle connection to close');
    expect(await client.call('echo', 2)).toBe(2);
  });

  it('a call in flight keeps its connection from idling, however long it runs', async () => {
    const gate = deferred<string>();
    const started = deferred();
    const { client, serverSockets, dispose } = await rpcPair(
      (s) =>
        s.handle('gate', () => {
          started.resolve();
          return gate.promise;
        }),
      { server: { idleTimeoutMs: 30 } },
    );
    cleanup.add(dispose);
    const call = client.call('gate', null);
    await started.promise;
    const { inbox, conn } = await frameClient(serverSockets[0]?.localPort ?? 0);
    cleanup.add(() => conn.destroy());
    // The observer's own connection idles out (two idle looks at least) while the call's does not.
    await within(inbox.closed, 5000, "the observer's idle connection to close");
    expect((serverSockets[0] as net.Socket).closed).toBe(false);
    gate.resolve('kept');
    expect(await call).toBe('kept');
  });
});
