import type { MsPattern } from '@nestjs/microservices';
import type { RpcClientOptions } from '../rpc/client/options.js';
import type { RpcListenOptions, RpcServerSettings } from '../rpc/server/options.js';

/*
 * The Nest transport's options are the RPC layer's, passed down by spread: a setting added to
 * `RpcClientSettings` or `RpcServerSettings` reaches Nest with no line here, under the same
 * name (`protocol` among them). A field of Nest's own is added here and stripped before the
 * spread (`streamingPatterns`).
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
export type ProtosocketClientOptions = RpcClientOptions & ProtosocketClientSettings;

/** `ProtosocketClient`'s own options, beyond the RPC client's. */
export interface ProtosocketClientSettings {
  /**
   * protosocket-rpc profile: the patterns whose `send()` is a streaming call (Normal* End); any
   * other `send()` is unary (settled by the first Normal) unless its options say `{ stream: true }`.
   * Patterns as given to `send()`, strings or objects. Ignored by the native protocol.
   */
  streamingPatterns?: readonly MsPattern[];
}
