/**
 * Where a connection goes, or where a listener accepts: a TCP address or a local (IPC) socket.
 * The same shape serves both sides; what TLS to use is a separate option of each side, so one
 * TLS setting can cover several endpoints.
 *
 * The two forms exclude each other (`path` with `host` or `port` does not type-check), so
 * whoever reads an `Endpoint` tells them apart by `path`.
 */
export type Endpoint = TcpEndpoint | IpcEndpoint;

export interface TcpEndpoint {
  /** Default 127.0.0.1. */
  host?: string;
  /** Connecting: the server's port. Listening: default 0, a free port (read it back from the listener). */
  port?: number;
  path?: never;
}

/** A Unix domain socket path, or a Windows named pipe (`\\.\pipe\name`). */
export interface IpcEndpoint {
  path: string;
  host?: never;
  port?: never;
}

/** The address `net.connect` / `server.listen` take for `endpoint`; TCP defaults applied. */
export function socketAddress(endpoint: Endpoint): { path: string } | { host: string; port: number } {
  return endpoint.path !== undefined ? { path: endpoint.path } : { host: endpoint.host ?? '127.0.0.1', port: endpoint.port ?? 0 };
}
