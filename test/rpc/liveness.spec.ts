/**
 * Heartbeats (keepaliveIntervalMs / keepaliveTimeoutMs) on both sides, over real loopback
 * sockets: a peer that accepts and never answers, a server process paused with SIGSTOP, a
 * connection draining after GoAway. Small intervals (tens to hundreds of ms) keep them short;
 * every wait is on an event, with `within` only as a safety net.
 */
import net from 'node:net';
import { connect } from '../../src/core/index.js';
import { Keepalive } from '../../src/rpc/keepalive.js';
import { ControlCode, jsonCodec, RpcClient, RpcServer, type RpcFrame } from '../../src/rpc/index.js';
import { deferred, latch, within } from '../helpers/async.js';
import { Cleanup } from '../helpers/cleanup.js';
import { forkScript, killChild } from '../helpers/child-process.js';
import { codeOf, rejection } from '../helpers/errors.js';
import { encode } from '../helpers/frames.js';
import { rawPeer, whenClosed } from '../helpers/net.js';
import { type FrameConnection, frameServer } from './support.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('Keepalive (the heartbeat as decisions)', () => {
  const settings = { intervalMs: 100, timeoutMs: 50 };

  it('pings after an interval in which nothing was heard, and gives up after the timeout', () => {
    const keepalive = new Keepalive(settings, 0, 0);
    expect(keepalive.due).toBe(100);
    expect(keepalive.check(100, 0, false)).toBe('ping');
    expect(keepalive.due).toBe(150);
    expect(keepalive.check(150, 0, false)).toBe('unresponsive');
    expect(keepalive.silentMs).toBe(150);
  });

  it('any frame heard is life: a busy connection never pings, and a frame after the Ping cancels the verdict', () => {
    const keepalive = new Keepalive(settings, 0, 0);
    expect(keepalive.check(100, 7, false)).toBe('wait');
    expect(keepalive.due).toBe(200);
    expect(keepalive.check(200, 7, false)).toBe('ping');
    expect(keepalive.check(250, 8, false)).toBe('wait');
    expect(keepalive.due).toBe(350);
  });

  it('silence while we paused reading is ours, never the peer\'s', () => {
    const keepalive = new Keepalive(settings, 0, 0);
    expect(keepalive.check(100, 0, false)).toBe('ping');
    expect(keepalive.check(150, 0, true)).toBe('wait');
    expect(keepalive.check(250, 0, true)).toBe('wait');
    expect(keepalive.check(350, 0, false)).toBe('ping');
  });
});

/** A TCP server that accepts and then never reads nor writes: a black hole. */
async function blackHole(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    socket.pause();
    socket.on('error', () => {});
    sockets.add(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.add(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as net.AddressInfo).port;
}

describe('heartbeat options', () => {
  it('a negative or non-finite duration is ERR_INVALID_OPTION naming the option; 0 turns the heartbeat off', async () => {
    expect(() => new RpcClient({ keepaliveIntervalMs: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', option: 'keepaliveIntervalMs' }));
    expect(() => new RpcClient({ keepaliveTimeoutMs: Number.NaN })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', option: 'keepaliveTimeoutMs' }));
    expect(() => new RpcClient({ keepaliveIntervalMs: 0 })).not.toThrow();
    for (const option of ['keepaliveIntervalMs', 'maxConnectionAgeMs', 'maxConnectionAgeGraceMs', 'idleTimeoutMs'] as const) {
      const server = new RpcServer({ [option]: -5 });
      expect(await rejection(server.listen())).toMatchObject({ code: 'ERR_INVALID_OPTION', option });
    }
  });
});

describe('client heartbeat', () => {
  it('a server that accepts and never answers fails a call without a timeout with ERR_PEER_UNRESPONSIVE, after interval + timeout', async () => {
    const port = await blackHole();
    const client = new RpcClient({ port, keepaliveIntervalMs: 200, keepaliveTimeoutMs: 300, reconnect: false });
    cleanup.add(() => client.destroy());
    const errors: unknown[] = [];
    client.on('error', (err) => errors.push(err));
    await client.connect();
    const started = performance.now();

    const calls = [rejection(client.call('anything', 1)), rejection(client.stream('anything', 2).next())];
    const failures = await within(Promise.all(calls), 5000, 'the calls to fail');

    expect(failures.map(codeOf)).toEqual(['ERR_PEER_UNRESPONSIVE', 'ERR_PEER_UNRESPONSIVE']);
    expect(failures[0]).toMatchObject({ name: 'PeerUnresponsiveError' });
    // A lower bound only: the connection was given up no sooner than the heartbeat allows.
    expect(performance.now() - started).toBeGreaterThanOrEqual(200 + 300 - 5);
    expect(errors.map(codeOf)).toEqual(['ERR_PEER_UNRESPONSIVE']);
    expect(client.status).toBe('disconnected');
  });

  it('a live server that is silent for many intervals gets Pings, answers them, and the call completes', async () => {
    // A frame-level server that answers Pings and replies only once it has seen three of them.
    const pinged = latch(3);
    let pings = 0;
    let request: RpcFrame | undefined;
    const server = await frameServer((frame, conn) => {
      if (frame.code === ControlCode.Normal) request = frame;
      if (frame.code !== ControlCode.Ping) return;
      conn.send({ id: frame.id, code: ControlCode.Pong });
      if (++pings === 3 && request !== undefined) conn.send({ id: request.id, code: ControlCode.Reply, data: 'late but alive' });
      pinged.hit();
    });
    cleanup.add(() => server.close());
    const client = new RpcClient({ port: server.port, keepaliveIntervalMs: 30, keepaliveTimeoutMs: 60 });
    cleanup.add(() => client.destroy());

    expect(await within(client.call('slow', null), 5000, 'the call')).toBe('late but alive');
    await pinged.done;
    expect(client.status).toBe('connected');
  });

  it('a connection draining after GoAway keeps its heartbeat and its calls (grpc-node #3068)', async () => {
    // The server says GoAway on the call's connection at once, then stays silent there but for
    // Pongs, and replies after three Pings. (The client opens a new connection meanwhile: its
    // Pings are answered too, and counted apart.)
    let pings = 0;
    let draining: FrameConnection | undefined;
    let request: RpcFrame | undefined;
    const server = await frameServer((frame, conn) => {
      if (frame.code === ControlCode.Normal && request === undefined) {
        request = frame;
        draining = conn;
        conn.send({ id: frame.id, code: ControlCode.GoAway });
      }
      if (frame.code !== ControlCode.Ping) return;
      conn.send({ id: frame.id, code: ControlCode.Pong });
      if (conn === draining && ++pings === 3 && request !== undefined) conn.send({ id: request.id, code: ControlCode.Reply, data: 'drained' });
    });
    cleanup.add(() => server.close());
    const client = new RpcClient({ port: server.port, keepaliveIntervalMs: 30, keepaliveTimeoutMs: 60 });
    cleanup.add(() => client.destroy());

    expect(await within(client.call('long', null), 5000, 'the draining call')).toBe('drained');
    expect(pings).toBeGreaterThanOrEqual(3);
  });
});

describe('server heartbeat', () => {
  it('a client that connects and never reads has its connection closed and its calls aborted with ERR_PEER_UNRESPONSIVE', async () => {
    const aborted = deferred<unknown>();
    const server = new RpcServer({ keepaliveIntervalMs: 50, keepaliveTimeoutMs: 100 });
    server.handle('hang', (_data, ctx) => new Promise(() => ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.reason))));
    await server.listen();
    cleanup.add(() => server.close(100));
    const peer = await rawPeer(server.port);
    cleanup.add(() => peer.destroy());
    peer.pause();
    peer.write(encode(jsonCodec.encoder, { id: 1, code: ControlCode.Normal, pattern: 'hang', data: null }));

    expect(codeOf(await within(aborted.promise, 5000, 'the handler to be aborted'))).toBe('ERR_PEER_UNRESPONSIVE');
    // Reading again, the peer finds its connection closed (behind the Ping it never answered).
    peer.resume();
    await within(whenClosed(peer), 5000, 'the server to close the connection');
    expect(server.connectionCount).toBe(0);
  });

  it('a client that answers its Pings keeps its connection however long it is silent', async () => {
    const server = new RpcServer({ keepaliveIntervalMs: 30, keepaliveTimeoutMs: 60 });
    await server.listen();
    cleanup.add(() => server.close(100));
    const pinged = latch(3);
    const conn = await connect<RpcFrame, RpcFrame>({
      ...jsonCodec,
      port: server.port,
      reactor: (own) => ({
        onMessage: (frame) => {
          if (frame.code !== ControlCode.Ping) return;
          own.send({ id: frame.id, code: ControlCode.Pong });
          pinged.hit();
        },
      }),
    });
    cleanup.add(() => conn.destroy());

    await within(pinged.done, 5000, 'three Pings');
    expect(conn.state).toBe('open');
    expect(server.connectionCount).toBe(1);
  });
});

describe('a paused server process', () => {
  it('SIGSTOP: calls fail with ERR_PEER_UNRESPONSIVE; SIGCONT: the client recovers', async () => {
    const { child, ready } = await within(forkScript<{ port: number }>('test/rpc/fixtures/echo-server.ts'), 15_000, 'the server process');
    cleanup.add(() => killChild(child));
    const client = new RpcClient({
      port: ready.port,
      keepaliveIntervalMs: 200,
      keepaliveTimeoutMs: 300,
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    });
    cleanup.add(() => client.destroy());
    expect(await within(client.call('echo', 'before'), 5000, 'a call before the pause')).toBe('before');

    child.kill('SIGSTOP');
    const calls = [1, 2, 3].map((n) => rejection(client.call('echo', n)));
    expect((await within(Promise.all(calls), 5000, 'the calls to fail')).map(codeOf)).toEqual([
      'ERR_PEER_UNRESPONSIVE',
      'ERR_PEER_UNRESPONSIVE',
      'ERR_PEER_UNRESPONSIVE',
    ]);

    child.kill('SIGCONT');
    // A connection the client opened during the pause may be given up just as the process
    // resumes; the client recovers when a call succeeds, within a few attempts.
    let answer: unknown;
    for (let attempt = 0; attempt < 5 && answer === undefined; attempt++) {
      try {
        answer = await within(client.call('echo', 'after'), 5000, 'a call after the pause');
      } catch (err) {
        expect(['ERR_PEER_UNRESPONSIVE', 'ERR_CONNECTION_CLOSED']).toContain(codeOf(err));
      }
    }
    expect(answer).toBe('after');
  });
});
