import type { Deserializer, MsPattern, Serializer } from '@nestjs/microservices';
import type { RpcClientOptions } from '../rpc/client/options.js';
import type { RpcListenOptions, RpcServerSettings } from '../rpc/server/options.js';

/*
 * The Nest transport's options are the RPC layer's, passed down by spread: a setting added to
 * `RpcClientSettings` or `RpcServerSettings` reaches Nest under the same name (`protocol`
 * among them). Fields of Nest's own (`streamingPatterns`, and the `serializer` / `deserializer`
 * every Nest transport takes) are added here and stripped before the spread. The key lists
 * below are checked by the compiler against these types, so a new RPC setting is one line
 * here too, and an option a user misspells (ClientsModule's options are untyped) fails at
 * construction instead of being dropped.
 */

/** The options every Nest transport takes: how packets are turned into what goes on the wire, and back. */
export interface NestPacketOptions {
  /** Nest's extension point: applied to every outgoing packet (requests and events on the client, responses on the server). */
  serializer?: Serializer;
  /** Nest's extension point: applied to every incoming packet. */
  deserializer?: Deserializer;
}

/**
 * `ProtosocketServer`'s options: where it listens (`host`/`port`/`path`, `backlog`, `tls`),
 * the RPC server's settings (`codec`, `limits`, `maxConcurrentCalls`, `drainTimeoutMs`...), and
 * Nest's `serializer` / `deserializer`. The RPC server's hooks (handler lookup, error bodies)
 * are the strategy's own. `tlsOptions` (Transport.TCP's name) is taken as `tls`.
 */
export type ProtosocketServerOptions = RpcListenOptions & RpcServerSettings & NestPacketOptions;

/**
 * `ProtosocketClient`'s options: the RPC client's (`host`/`port`/`path`, or `endpoints` /
 * `resolver` with `balancer`, `connectionsPerEndpoint` and `resolveIntervalMs`; `tls`,
 * `codec`, `timeoutMs`, `reconnect`, `closeTimeoutMs`...), its own, and Nest's `serializer` /
 * `deserializer`. Without `codec`, a client built by `ProtosocketModule` uses the
 * PROTOSOCKET_CODEC provider, any other JSON. `tlsOptions` (Transport.TCP's name) is taken as `tls`.
 */
export type ProtosocketClientOptions = RpcClientOptions & ProtosocketClientSettings & NestPacketOptions;

/** `ProtosocketClient`'s own options, beyond the RPC client's. */
export interface ProtosocketClientSettings {
  /**
   * protosocket-rpc profile: the patterns whose `send()` is a streaming call (Normal* End); any
   * other `send()` is unary (settled by the first Normal) unless its options say `{ stream: true }`.
   * Patterns as given to `send()`, strings or objects. Ignored by the native protocol.
   */
  streamingPatterns?: readonly MsPattern[];
}

type KeySet<T> = { readonly [K in keyof Required<T>]: true };

/** Every key `ProtosocketClient` takes; `streamingPatterns`, `serializer` and `deserializer` are the Nest side's. */
export const CLIENT_OPTION_KEYS: KeySet<ProtosocketClientOptions> = {
  host: true,
  port: true,
  path: true,
  endpoints: true,
  resolver: true,
  tls: true,
  connectTimeoutMs: true,
  noDelay: true,
  keepAlive: true,
  codec: true,
  protocol: true,
  limits: true,
  timeoutMs: true,
  reconnect: true,
  streamHighWaterMark: true,
  closeTimeoutMs: true,
  balancer: true,
  connectionsPerEndpoint: true,
  resolveIntervalMs: true,
  keepaliveIntervalMs: true,
  keepaliveTimeoutMs: true,
  streamingPatterns: true,
  serializer: true,
  deserializer: true,
};

export const SERVER_OPTION_KEYS: KeySet<ProtosocketServerOptions> = {
  host: true,
  port: true,
  path: true,
  backlog: true,
  tls: true,
  noDelay: true,
  keepAlive: true,
  codec: true,
  protocol: true,
  limits: true,
  maxConcurrentCalls: true,
  maxQueuedRequestBytes: true,
  maxBufferedItems: true,
  maxBufferedBytes: true,
  drainTimeoutMs: true,
  keepaliveIntervalMs: true,
  keepaliveTimeoutMs: true,
  maxConnectionAgeMs: true,
  maxConnectionAgeGraceMs: true,
  idleTimeoutMs: true,
  serializer: true,
  deserializer: true,
};
