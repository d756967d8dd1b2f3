import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { Connection, type ConnectionOptions } from './connection.js';
import { connectionOpenChannel, publishConnectionOpen } from './diagnostics.js';
import { type Endpoint, socketAddress } from './endpoint.js';
import { InboundBudget } from './inbound-budget.js';
import { resolveLimits } from './options.js';

/** How to serve an endpoint, besides its address. */
export interface BindOptions {
  /** Length of the queue of connections not yet accepted (Node's default when unset). */
  backlog?: number;
  /** Serve TLS with these options (key/cert, ca + requestCert for client certificates). */
  tls?: tls.TlsOptions;
}

/** An endpoint to bind (TCP port 0 picks a free one: read it back from `listener.port`). */
export type ListenOptions<In, Out> = Endpoint & BindOptions & ConnectionOptions<In, Out>;

export interface ListenerEvents<In, Out> {
  connection: [connection: Connection<In, Out>];
  /** A socket failed before it became a connection (for example a TLS handshake error). */
  clientError: [error: Error];
  error: [error: Error];
}

/** An accepting endpoint. Every accepted socket becomes a `Connection` with its own reactor. */
export class Listener<In = unknown, Out = unknown> extends EventEmitter<ListenerEvents<In, Out>> {
  private readonly live = new Set<Connection<In, Out>>();
  /** Inbound bytes of every connection, counted together against `limits.maxInboundBytes`. */
  readonly inbound: InboundBudget;
  private closing: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly server: net.Server | tls.Server,
    private readonly options: ListenOptions<In, Out>,
  ) {
    super();
    this.inbound = new InboundBudget(resolveLimits(options.limits).maxInboundBytes);
    const accept = (socket: net.Socket) => this.accept(socket);
    if (server instanceof tls.Server) {
      server.on('secureConnection', accept);
      server.on('tlsClientError', (err: Error) => this.emit('clientError', err));
    } else {
      server.on('connection', accept);
    }
    server.on('error', (err: Error) => this.emit('error', err));
  }

  /** Open connections. */
  get connections(): ReadonlySet<Connection<In, Out>> {
    return this.live;
  }

  /** The bound TCP port (after `listen` resolved), or undefined for a Unix socket. */
  get port(): number | undefined {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  address(): net.AddressInfo | string | null {
    return this.server.address();
  }

  unwrap(): net.Server | tls.Server {
    return this.server;
  }

  /**
   * Stops accepting, closes every connection gracefully (queued frames are written) and
   * resolves once all are closed. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= Promise.all([this.stopAccepting(), ...[...this.live].map((connection) => connection.close())]).then(noop);
    return this.closing;
  }

  /**
   * Stops accepting; open connections stay. Resolves once the server is closed, which Node
   * reports only after every connection has closed too. Idempotent.
   */
  stopAccepting(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => this.server.close(() => resolve()));
    return this.stopped;
  }

  /** Stops accepting and destroys every connection at once. */
  destroy(reason?: Error): void {
    void this.stopAccepting();
    for (const connection of this.live) connection.destroy(reason);
  }

  private accept(socket: net.Socket): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    // Half-open from here on: the Connection ends our side once it has written what it queued.
    socket.allowHalfOpen = true;
    const connection = new Connection(socket, this.options, this.inbound);
    this.live.add(connection);
    void connection.closed.then(() => this.live.delete(connection));
    if (connectionOpenChannel.hasSubscribers) publishConnectionOpen(connection, 'server');
    this.emit('connection', connection);
  }
}

/** Binds a TCP, TLS or Unix-socket endpoint. Rejects if binding fails (for example EADDRINUSE). */
export function listen<In, Out>(options: ListenOptions<In, Out>): Promise<Listener<In, Out>> {
  try {
    // Bad limits are refused before anything is bound.
    resolveLimits(options.limits);
  } catch (err) {
    return Promise.reject(err as Error);
  }
  const serverOptions = { allowHalfOpen: true, noDelay: options.noDelay ?? true };
  // TLS sockets become half-open only in `accept`, after the handshake. Before it no Connection
  // owns them, so a peer hanging up mid-handshake would leave our side open (and `close()`
  // waiting) until the handshake timeout; without half-open, Node ends and closes it.
  const server = options.tls
    ? tls.createServer({ ...serverOptions, ...options.tls, allowHalfOpen: false })
    : net.createServer(serverOptions);
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    // The Listener (and its 'error' forwarding) exists only once bound: a bind error belongs to
    // this promise alone. Were the Listener built first, it would re-emit the error with no
    // 'error' listener attached yet, which throws, and the promise would never settle.
    // No connection can be accepted before 'listening', so none is missed.
    const onListening = () => {
      server.off('error', onError);
      resolve(new Listener(server, options));
    };
    server.listen({ ...socketAddress(options), backlog: options.backlog }, onListening);
  });
}

function noop(): void {}
