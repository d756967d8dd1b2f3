import type net from 'node:net';
import {
  connect,
  listen,
  rawCodec,
  type ConnectOptions,
  type Connection,
  type Listener,
  type ListenOptions,
  type Reactor,
  type ReactorFactory,
  type TcpEndpoint,
} from '../../src/core/index.js';
import { deferred } from '../helpers/async.js';
import type { Cleanup } from '../helpers/cleanup.js';
import { rawPeer } from '../helpers/net.js';

export type RawConnection = Connection<Buffer, Uint8Array>;

/** One length-prefixed frame (u32 BE body length, then the body), as the raw codec writes it. */
export function frame(body: Uint8Array | string): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const header = Buffer.alloc(4);
  header.writeUInt32BE(bytes.byteLength);
  return Buffer.concat([header, bytes]);
}

/** A body of `size` bytes (at least 4) that starts with `index` (u32 BE), for checking order and integrity. */
export function numbered(index: number, size = 16): Buffer {
  const body = Buffer.alloc(size, index & 0xff);
  body.writeUInt32BE(index);
  return body;
}

/** Checks that `messages` are exactly numbered(0..count-1, size), in order. */
export function expectNumbered(messages: readonly Buffer[], count: number, size = 16): void {
  expect(messages.length).toBe(count);
  const wrong = messages.findIndex((message, index) => !message.equals(numbered(index, size)));
  expect(wrong).toBe(-1);
}

/**
 * Records what a connection's reactor receives. `waitFor(n)` resolves once n messages have
 * arrived and rejects if the connection closes first, so a test fails fast instead of hanging.
 */
export class Inbox<T = Buffer> {
  readonly messages: T[] = [];
  private readonly closing = deferred<Error | undefined>();
  private waiters: { count: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  private done = false;

  /** Resolves with the reason passed to the reactor's onClose. */
  readonly closed = this.closing.promise;

  /** A reactor factory recording into this inbox. */
  readonly reactor = (): Reactor<T> => ({
    onMessage: (message: T) => this.add(message),
    onClose: (reason: Error | undefined) => this.close(reason),
  });

  add(message: T): void {
    this.messages.push(message);
    this.waiters = this.waiters.filter((waiter) => {
      if (this.messages.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  }

  close(reason: Error | undefined): void {
    this.done = true;
    for (const waiter of this.waiters) {
      waiter.reject(new Error(`closed after ${this.messages.length} of ${waiter.count} messages`, { cause: reason }));
    }
    this.waiters = [];
    this.closing.resolve(reason);
  }

  waitFor(count: number): Promise<T[]> {
    if (this.messages.length >= count) return Promise.resolve(this.messages);
    if (this.done) return Promise.reject(new Error(`closed after ${this.messages.length} of ${count} messages`));
    return new Promise((resolve, reject) => {
      this.waiters.push({ count, resolve: () => resolve(this.messages), reject });
    });
  }
}

export interface RawPairOptions {
  server?: Partial<ListenOptions<Buffer, Uint8Array>>;
  /** The client connects to the listener's TCP port. */
  client?: Partial<ConnectOptions<Buffer, Uint8Array>> & TcpEndpoint;
  /** The server sends every message it receives back. */
  echo?: boolean;
}

export interface RawPair {
  listener: Listener<Buffer, Uint8Array>;
  /** The server side of the one accepted connection. */
  server: RawConnection;
  client: RawConnection;
  serverInbox: Inbox;
  clientInbox: Inbox;
  /** Destroys both sides and closes the listener. */
  dispose(): Promise<void>;
}

/**
 * A reactor factory that gives each connection a fresh Inbox, stored in `inboxes`, and
 * optionally sends every message back.
 */
export function recording(inboxes: Map<RawConnection, Inbox>, echo = false): ReactorFactory<Buffer, Uint8Array> {
  return (connection) => {
    const inbox = new Inbox();
    inboxes.set(connection, inbox);
    const record = inbox.reactor();
    if (!echo) return record;
    return {
      onMessage: (message: Buffer, bytes: number) => {
        record.onMessage(message, bytes);
        connection.send(message);
      },
      onClose: record.onClose,
    };
  };
}

/** The next connection `listener` accepts. */
export function acceptNext(listener: Listener<Buffer, Uint8Array>): Promise<RawConnection> {
  return new Promise((resolve) => listener.once('connection', resolve));
}

/**
 * A plain `net` peer connected to `listener` (for playing a misbehaving client), with the server
 * side of it; the peer is destroyed by `cleanup`.
 */
export async function rawPeerOf(
  listener: Listener<Buffer, Uint8Array>,
  cleanup: Cleanup,
): Promise<{ peer: net.Socket; accepted: RawConnection }> {
  const accepted = acceptNext(listener);
  const peer = await rawPeer(listener.port);
  cleanup.add(() => peer.destroy());
  return { peer, accepted: await accepted };
}

/** A listener on 127.0.0.1:0 with the raw codec and one client connected to it. */
export async function rawPair(options: RawPairOptions = {}): Promise<RawPair> {
  const inboxes = new Map<RawConnection, Inbox>();
  const clientInbox = new Inbox();
  const listener = await listen<Buffer, Uint8Array>({ ...rawCodec, reactor: recording(inboxes, options.echo), ...options.server });
  const accepted = acceptNext(listener);
  const client = await connect<Buffer, Uint8Array>({ ...rawCodec, port: listener.port, reactor: clientInbox.reactor, ...options.client });
  const server = await accepted;
  const dispose = async (): Promise<void> => {
    client.destroy();
    server.destroy();
    await Promise.all([client.closed, server.closed]);
    await listener.close();
  };
  // A custom server reactor records nothing: its test inspects what it needs.
  return { listener, server, client, serverInbox: inboxes.get(server) ?? new Inbox(), clientInbox, dispose };
}
