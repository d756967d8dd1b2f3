/** Plain `net` sockets and ports, for playing a peer no codec or client would be. */
import net from 'node:net';

/** A plain socket connected to 127.0.0.1:`port`, for sending bytes no codec would produce. */
export function rawPeer(port: number | undefined): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: port ?? 0 });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      // The server may reset a peer that breaks the protocol on purpose; that is not a test failure.
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}

/** Resolves once `socket` has emitted 'close' (at once if it already has). */
export function whenClosed(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Resolves once `total` bytes have arrived on `socket`; rejects if it closes first. Starts reading. */
export function receiveBytes(socket: net.Socket, total: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const onClose = () => reject(new Error(`closed after ${received} of ${total} bytes`));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received < total) return;
      socket.off('close', onClose);
      if (received === total) resolve();
      else reject(new Error(`received ${received} bytes, expected ${total}`));
    });
    socket.once('close', onClose);
    socket.resume();
  });
}

/** A TCP port on 127.0.0.1 with nothing listening on it (bound, read, released). */
export async function unusedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
