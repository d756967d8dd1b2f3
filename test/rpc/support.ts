import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, listen, type Connection, type Listener, type Reactor } from '../../src/core/index.js';
import {
  jsonCodec,
  RpcClient,
  RpcServer,
  type RpcClientOptions,
  type RpcClientStatus,
  type RpcFrame,
  type RpcServerOptions,
} from '../../src/rpc/index.js';
import { deferred } from '../helpers/async.js';

export type FrameConnection = Connection<RpcFrame, RpcFrame>;

export interface RpcPair {
  server: RpcServer;
  client: RpcClient;
  port: number;
  /** Every server-side socket accepted so far (in accept order). */
  serverSockets: net.Socket[];
  /** Closes the client, then the server. */
  dispose(): Promise<void>;
}

let socketPaths = 0;

/** The endpoint's fields: `rpcPair` picks the endpoint, the options bring the rest. */
type EndpointKey = 'host' | 'port' | 'path';

/**
 * A server set up by `setup` and a client of it (not yet connected): over TCP on 127.0.0.1:0,
 * or with `unixSocket` over a Unix socket, whose kernel buffers are small and fixed (TCP's
 * grow to megabytes on loopback).
 */
export async function rpcPair(
  setup: (server: RpcServer) => void,
  options: { server?: Omit<RpcServerOptions, EndpointKey>; client?: Omit<RpcClientOptions, EndpointKey>; unixSocket?: boolean } = {},
): Promise<RpcPair> {
  const path = options.unixSocket === true ? join(tmpdir(), `protosocket-rpc-${process.pid}-${socketPaths++}.sock`) : undefined;
  const server = new RpcServer({ ...options.server, ...(path === undefined ? {} : { path }) });
  setup(server);
  await server.listen();
  const port = server.port ?? 0;
  const serverSockets: net.Socket[] = [];
  server.unwrap().on('connection', (socket: net.Socket) => serverSockets.push(socket));
  const client = new RpcClient({ ...(path === undefined ? { port } : { path }), ...options.client });
  const dispose = async (): Promise<void> => {
    await client.close(1000);
    await server.close(1000);
  };
  return { server, client, port, serverSockets, dispose };
}

/** Resolves when `client` next reports `status` (at once if it is in it already). */
export function nextStatus(client: RpcClient, status: RpcClientStatus): Promise<void> {
  if (client.status === status) return Promise.resolve();
  return new Promise((resolve) => {
    const onStatus = (now: RpcClientStatus): void => {
      if (now !== status) return;
      client.off('status', onStatus);
      resolve();
    };
    client.on('status', onStatus);
  });
}

/** Records the frames a hand-driven connection receives; `next` waits for one that matches. */
export class FrameInbox {
  readonly frames: RpcFrame[] = [];
  private readonly ended = deferred<Error | undefined>();
  private waiters: { match: (frame: RpcFrame) => boolean; resolve: (frame: RpcFrame) => void; reject: (err: Error) => void }[] = [];
  private isClosed = false;
  /** Resolves with the reason the connection closed. */
  readonly closed = this.ended.promise;

  readonly reactor = (): Reactor<RpcFrame> => ({
    onMessage: (frame) => this.add(frame),
    onClose: (reason) => this.close(reason),
  });

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** The first frame received from now on, or already received and not yet taken, that matches. */
  next(match: (frame: RpcFrame) => boolean): Promise<RpcFrame> {
    const index = this.frames.findIndex(match);
    if (index !== -1) return Promise.resolve(this.frames.splice(index, 1)[0] as RpcFrame);
    if (this.isClosed) return Promise.reject(new Error('connection closed before a matching frame arrived'));
    return new Promise((resolve, reject) => this.waiters.push({ match, resolve, reject }));
  }

  private add(frame: RpcFrame): void {
    const waiter = this.waiters.find((candidate) => candidate.match(frame));
    if (waiter === undefined) {
      this.frames.push(frame);
      return;
    }
    this.waiters = this.waiters.filter((candidate) => candidate !== waiter);
    waiter.resolve(frame);
  }

  private close(reason: Error | undefined): void {
    this.isClosed = true;
    for (const waiter of this.waiters) waiter.reject(new Error('connection closed before a matching frame arrived', { cause: reason }));
    this.waiters = [];
    this.ended.resolve(reason);
  }
}

/** A frame-level client: speaks the JSON codec to `port` by hand. */
export async function frameClient(port: number): Promise<{ conn: FrameConnection; inbox: FrameInbox }> {
  const inbox = new FrameInbox();
  const conn = await connect<RpcFrame, RpcFrame>({ ...jsonCodec, port, reactor: inbox.reactor });
  return { conn, inbox };
}

/**
 * A frame-level server: `respond` sees every frame a client sends, with the connection to
 * answer on. Stands in for a misbehaving RPC server.
 */
export async function frameServer(
  respond: (frame: RpcFrame, conn: FrameConnection) => void,
): Promise<{ listener: Listener<RpcFrame, RpcFrame>; port: number; close(): Promise<void> }> {
  const listener = await listen<RpcFrame, RpcFrame>({
    ...jsonCodec,
    reactor: (conn) => ({ onMessage: (frame) => respond(frame, conn) }),
  });
  const close = async (): Promise<void> => {
    listener.destroy();
    await listener.close();
  };
  return { listener, port: listener.port as number, close };
}
