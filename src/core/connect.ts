import net from 'node:net';
import tls from 'node:tls';
import { Connection, type ConnectionOptions } from './connection.js';
import { connectionOpenChannel, publishConnectionOpen } from './diagnostics.js';
import { type Endpoint, socketAddress } from './endpoint.js';
import { ConnectTimeoutError } from './errors.js';

/** How to reach an endpoint, besides its address. */
export interface DialOptions {
  /** Connect with TLS using these options (ca, servername, client cert/key...). */
  tls?: tls.ConnectionOptions;
  /** Fail with `ERR_CONNECT_TIMEOUT` if not connected (and, for TLS, handshaken) by then. Default 10 s. */
  connectTimeoutMs?: number;
}

export type ConnectOptions<In, Out> = Endpoint & DialOptions & ConnectionOptions<In, Out>;

// Half-open, so the connection decides when to end its side: after writing what it queued.
const halfOpen = { allowHalfOpen: true };

/** Opens a connection; resolves once it can carry messages (after the TLS handshake, with TLS). */
export function connect<In, Out>(options: ConnectOptions<In, Out>): Promise<Connection<In, Out>> {
  const endpoint = socketAddress(options);
  const socket = options.tls
    ? tls.connect({ ...endpoint, ...options.tls, ...halfOpen })
    : net.connect({ ...endpoint, ...halfOpen });
  const readyEvent = options.tls ? 'secureConnect' : 'connect';
  const timeoutMs = options.connectTimeoutMs ?? 10_000;

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new ConnectTimeoutError(timeoutMs)), timeoutMs);
    const onError = (err: Error) => fail(err);
    function fail(err: Error): void {
      clearTimeout(timer);
      socket.off(readyEvent, onReady);
      socket.destroy();
      reject(err);
    }
    function onReady(): void {
      clearTimeout(timer);
      socket.off('error', onError);
      const connection = new Connection(socket, options);
      if (connectionOpenChannel.hasSubscribers) publishConnectionOpen(connection, 'client');
      resolve(connection);
    }
    socket.once('error', onError);
    socket.once(readyEvent, onReady);
  });
}
