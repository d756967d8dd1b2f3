import type { Codec } from '../../core/codec.js';
import type { Endpoint } from '../../core/endpoint.js';
import type { BindOptions } from '../../core/listener.js';
import type { ConnectionLimits, SocketOptions } from '../../core/options.js';
import type { RpcFrame } from '../wire/frame.js';
import type { EventHandler, RequestHandler } from './handler.js';

/**
 * Everything an `RpcServer` is configured with: where it listens, the settings below, and the
 * hooks. `listen()` binds what the options name. The Nest server takes the listen options and
 * settings (it supplies the hooks itself), passed down by spread, so a setting added here
 * reaches it without another line.
 */
export type RpcServerOptions = RpcListenOptions & RpcServerSettings & RpcServerHooks;

/**
 * Where and how the server listens: an endpoint (TCP `host`, default 127.0.0.1, and `port`,
 * default 0, a free port read back from `server.port`; or a socket `path`), `backlog` and `tls`.
 */
export type RpcListenOptions = Endpoint & BindOptions;

/** An `RpcServer`'s options apart from where it listens and the hooks. */
export interface RpcServerSettings extends SocketOptions {
  /** The wire format, both directions. Default: the JSON codec. */
  codec?: Codec<RpcFrame, RpcFrame>;
  limits?: ConnectionLimits;
  /** Calls in flight per connection before the server stops reading from it. Default 1024. */
  maxConcurrentCalls?: number;
  /** Items a pushed stream (Subscribable) may buffer while its client is not reading; past it the call fails with ERR_SLOW_CONSUMER. Default 16384. */
  maxBufferedItems?: number;
  /** How long `close()` lets calls in flight finish before failing them with ERR_SHUTTING_DOWN. Default 10 000 ms. */
  drainTimeoutMs?: number;
}

/** How the server finds handlers beyond those registered, and shapes errors. */
export interface RpcServerHooks {
  /** Looks up a request handler for patterns not registered with `handle`. */
  resolveHandler?: (pattern: string) => RequestHandler | undefined;
  /** Looks up an event handler for patterns not registered with `handleEvent`. */
  resolveEventHandler?: (pattern: string) => EventHandler | undefined;
  /** Turns what a handler threw into the error body sent to the client. */
  serializeError?: (err: unknown) => unknown;
}
