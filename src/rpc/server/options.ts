import type { Codec } from '../../core/codec.js';
import type { Endpoint } from '../../core/endpoint.js';
import type { BindOptions } from '../../core/listener.js';
import type { ConnectionLimits, SocketOptions } from '../../core/options.js';
import type { RpcFrame } from '../wire/frame.js';
import type { WireProtocol } from '../wire/profile.js';
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
  /**
   * The conversation rules: `native` (default), or `protosocket-rpc` to serve stock
   * protosocket-rpc 2.x peers (docs/PROTOCOL.md §12): codes 0-2 only, a value or Promise
   * answered with one Normal, an Observable or AsyncIterable with Normal* End, errors as a
   * Normal carrying an error, no GoAway. The codec must have a protosocket-rpc form
   * (msgpackCodec, protobufCodec).
   */
  protocol?: WireProtocol;
  limits?: ConnectionLimits;
  /**
   * Calls running per connection. At the cap the server stops starting calls (it still reads
   * the connection, so Cancel and the client's FIN are seen): later requests wait, oldest
   * first, for a call to finish. Default 1024.
   */
  maxConcurrentCalls?: number;
  /** Bytes of requests (as encoded) that may wait for a slot at `maxConcurrentCalls`, per connection; past it a request fails at once with ERR_TOO_MANY_CALLS. Default 16 MiB. */
  maxQueuedRequestBytes?: number;
  /**
   * Items a pushed stream (Subscribable) may buffer while it may not send (its client reads
   * slower, or not at all: no credit, or no room on the connection); past it the call fails
   * with ERR_SLOW_CONSUMER. Default 4 194 304.
   */
  maxBufferedItems?: number;
  /** The same cap in approximate payload bytes (strings and bytes by length), per call. Default 256 MiB. */
  maxBufferedBytes?: number;
  /**
   * How long `close()` lets calls in flight finish before failing them with ERR_SHUTTING_DOWN;
   * also how long a connection whose client half-closed (FIN after its requests) stays open
   * for the replies of its calls in flight. Default 10 000 ms.
   */
  drainTimeoutMs?: number;
  /**
   * Heartbeat: after this much silence from a client (no frame received) the server sends it a
   * Ping. Default 0: off (clients ping, by default).
   */
  keepaliveIntervalMs?: number;
  /** How long a pinged client may stay silent before its connection is closed with ERR_PEER_UNRESPONSIVE. Default 10 000 ms. */
  keepaliveTimeoutMs?: number;
  /**
   * Sends GoAway on a connection once it has lived this long (±10 % jitter), so long-lived
   * clients move to new connections (and re-resolve, spreading over new replicas). Its calls
   * in flight finish; new ones are refused with ERR_REFUSED, which clients retry. Default: off.
   */
  maxConnectionAgeMs?: number;
  /** After the age GoAway, how long its calls may still run before failing with ERR_SHUTTING_DOWN, and the connection closes. Default: no bound. */
  maxConnectionAgeGraceMs?: number;
  /**
   * Closes a connection with no call in flight and no request or event (heartbeat Pings do not
   * count) for this long, sending GoAway first. Default: off.
   */
  idleTimeoutMs?: number;
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
