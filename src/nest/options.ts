import type { RpcClientOptions } from '../rpc/client/options.js';
import type { RpcListenOptions, RpcServerSettings } from '../rpc/server/options.js';

/*
 * The Nest transport's options are the RPC layer's, passed down by spread: a setting added to
 * `RpcClientSettings` or `RpcServerSettings` reaches Nest with no line here, under the same
 * name. Nest needs no field of its own today; one would be added here, and stripped before
 * the spread.
 */

/**
 * `ProtosocketServer`'s options: where it listens (`host`/`port`/`path`, `backlog`, `tls`) and
 * the RPC server's settings (`codec`, `limits`, `maxConcurrentCalls`, `drainTimeoutMs`...).
 * The RPC server's hooks (handler lookup, error bodies) are the strategy's own.
 */
export type ProtosocketServerOptions = RpcListenOptions & RpcServerSettings;

/**
 * `ProtosocketClient`'s options: the RPC client's (`host`/`port`/`path`, `tls`, `codec`,
 * `timeoutMs`, `reconnect`, `closeTimeoutMs`...). Without `codec`, a client built by
 * `ProtosocketModule` uses the PROTOSOCKET_CODEC provider, any other JSON.
 */
export type ProtosocketClientOptions = RpcClientOptions;
