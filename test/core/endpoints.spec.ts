import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { types } from 'node:util';
import {
  ConnectTimeoutError,
  connect,
  listen,
  rawCodec,
  type ConnectOptions,
  type ListenOptions,
} from '../../src/core/index.js';
import { Cleanup } from '../helpers/cleanup.js';
import { Inbox, acceptNext, expectNumbered, numbered, recording, type RawConnection } from './support.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url));
const ca = fixture('ca.crt');
const server = { key: fixture('server.key'), cert: fixture('server.crt') };
const client = { key: fixture('client.key'), cert: fixture('client.crt') };

type RawListenOptions = Partial<ListenOptions<Buffer, Uint8Array>>;
type RawConnectOptions = Partial<ConnectOptions<Buffer, Uint8Array>>;

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** An echo listener with the raw codec, closed after the test. */
async function echoListener(options: RawListenOptions = {}) {
  const listener = await listen<Buffer, Uint8Array>({ ...rawCodec, reactor: recording(new Map(), true), ...options });
  cleanup.add(() => listener.close());
  return listener;
}

/** Connects with the raw codec, sends `text`, checks that it comes back, and closes. */
async function roundTrip(options: RawConnectOptions, text = 'ping'): Promise<RawConnection> {
  const inbox = new Inbox();
  const connection = await connect<Buffer, Uint8Array>({ ...rawCodec, reactor: inbox.reactor, ...options });
  connection.send(Buffer.from(text));
  const [echoed] = await inbox.waitFor(1);
  expect(echoed!.toString()).toBe(text);
  expect(await connection.close()).toBeUndefined();
  return connection;
}

describe('endpoints', () => {
  describe('TLS', () => {
    it('round-trips over TLS with a certificate for 127.0.0.1', async () => {
      const listener = await echoListener({ tls: server });
      const connection = await roundTrip({ port: listener.port, tls: { ca } });
      expect((connection.unwrap() as TLSSocket).authorized).toBe(true);
    });

    it('refuses a server whose certificate the client does not trust', async () => {
      const listener = await echoListener({ tls: server });
      await expect(connect({ ...rawCodec, port: listener.port, tls: {}, reactor: () => ({ onMessage() {} }) })).rejects.toMatchObject({
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      });
    });

    describe('with client certificates required', () => {
      const mutual = { ...server, ca, requestCert: true, rejectUnauthorized: true };

      it('accepts a client presenting a certificate signed by the CA', async () => {
        const listener = await echoListener({ tls: mutual });
        const peerName = acceptNext(listener).then((served) => (served.unwrap() as TLSSocket).getPeerCertificate().subject.CN);
        await roundTrip({ port: listener.port, tls: { ca, ...client } });
        expect(await peerName).toBe('protosocket test client');
      });

      it('rejects a client without a certificate', async () => {
        const listener = await echoListener({ tls: mutual });
        let accepted = 0;
        listener.on('connection', () => accepted++);
        const clientError = once(listener, 'clientError');
        // With TLS 1.3 the client finishes its handshake before the server checks its
        // certificate, so the refusal may come as a failed connect or as an error closing
        // the new connection.
        const outcome = await connect<Buffer, Uint8Array>({ ...rawCodec, port: listener.port, tls: { ca }, reactor: () => ({ onMessage() {} }) }).then(
          (connection) => connection.closed,
          (err: unknown) => err,
        );
        // Errors from Node's TLS layer come from another realm than this test's `Error`.
        expect(types.isNativeError(outcome)).toBe(true);
        const [error] = (await clientError) as [Error];
        expect(error.message).toMatch(/certificate/i);
        expect(accepted).toBe(0);
      });
    });
  });

  it('round-trips over a Unix socket and removes it on close', async () => {
    const socketPath = path.join(os.tmpdir(), `protosocket-${process.pid}-${randomUUID().slice(0, 8)}.sock`);
    cleanup.add(() => rmSync(socketPath, { force: true }));
    const listener = await echoListener({ path: socketPath });
    expect(listener.port).toBeUndefined();
    expect(listener.address()).toBe(socketPath);
    await roundTrip({ path: socketPath });

    await listener.close();
    expect(existsSync(socketPath)).toBe(false);
  });

  it('rejects listening on a port already in use with EADDRINUSE', async () => {
    const first = await echoListener();
    await expect(echoListener({ port: first.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await roundTrip({ port: first.port });
  });

  it('rejects connecting to a closed port with ECONNREFUSED', async () => {
    const probe = await echoListener();
    const port = probe.port;
    await probe.close();
    await expect(connect({ ...rawCodec, port, reactor: () => ({ onMessage() {} }) })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('rejects with ERR_CONNECT_TIMEOUT when the TLS handshake never completes', async () => {
    // A plain TCP server that accepts and never answers the ClientHello.
    const silent = net.createServer();
    const sockets = new Set<net.Socket>();
    silent.on('connection', (socket) => sockets.add(socket));
    cleanup.add(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');

    const port = (silent.address() as net.AddressInfo).port;
    const attempt = connect({ ...rawCodec, port, tls: { ca }, connectTimeoutMs: 100, reactor: () => ({ onMessage() {} }) });
    await expect(attempt).rejects.toBeInstanceOf(ConnectTimeoutError);
    await expect(attempt).rejects.toMatchObject({ code: 'ERR_CONNECT_TIMEOUT' });
  });

  describe('Listener', () => {
    it('close() stops accepting, lets every connection finish what it queued, and resolves', async () => {
      const listener = await echoListener();
      const port = listener.port;
      const inboxes = [new Inbox(), new Inbox()];
      const accepted = [acceptNext(listener)];
      const first = await connect<Buffer, Uint8Array>({ ...rawCodec, port, reactor: inboxes[0]!.reactor });
      accepted.push(acceptNext(listener));
      const second = await connect<Buffer, Uint8Array>({ ...rawCodec, port, reactor: inboxes[1]!.reactor });
      const served = await Promise.all(accepted);
      expect(listener.connections.size).toBe(2);

      for (const connection of served) for (let index = 0; index < 1000; index++) connection.send(numbered(index));
      const closing = listener.close();
      expect(listener.close()).toBe(closing);
      await closing;

      expect(listener.connections.size).toBe(0);
      expect(listener.unwrap().listening).toBe(false);
      expect(served.map((connection) => connection.state)).toEqual(['closed', 'closed']);
      expect(await first.closed).toBeUndefined();
      expect(await second.closed).toBeUndefined();
      for (const inbox of inboxes) expectNumbered(inbox.messages, 1000);
      await expect(connect({ ...rawCodec, port, reactor: () => ({ onMessage() {} }) })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    });

    it('destroy() drops every connection at once with the reason', async () => {
      const listener = await echoListener();
      const accepted = acceptNext(listener);
      const connection = await connect<Buffer, Uint8Array>({ ...rawCodec, port: listener.port, reactor: () => ({ onMessage() {} }) });
      const served = await accepted;
      const reason = new Error('shutting down');

      listener.destroy(reason);
      expect(await served.closed).toBe(reason);
      await connection.closed;
      await listener.close();
      expect(listener.connections.size).toBe(0);
    });
  });
});
