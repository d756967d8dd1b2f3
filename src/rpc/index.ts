// The public surface of `nestjs-protosocket/rpc` (api/rpc.api.md records it; `npm run api:update`).
// Internal on purpose: the sessions (ClientSession, ServerSession, ServerCall), Backoff, the
// envelope rules and control-code helpers of wire/, and the handler-result type guards.
export { ControlCode } from './wire/control-code.js';
export { MAX_CALL_ID, type Metadata, type RpcFrame } from './wire/frame.js';
export { jsonCodec } from './wire/json-codec.js';
export type { WireProtocol } from './wire/profile.js';
export type { CallObserver, CallOptions, RetryPolicy } from './client/call.js';
export type { CallHandle } from './client/session.js';
export type { BackoffOptions } from './client/backoff.js';
export {
  RpcClient,
  type RpcClientEndpoints,
  type RpcClientEvents,
  type RpcClientOptions,
  type RpcClientSettings,
  type RpcClientStatus,
  type RpcEndpointPing,
  type RpcEndpointState,
  type RpcPingEachOptions,
} from './client/client.js';
export type { BalancerName } from './client/balancer.js';
export type { DnsEndpoint, EndpointResolver, EndpointSpec } from './client/resolver.js';
export type { ChannelState } from './client/channel.js';
export { CallContext, type PeerInfo } from './server/call-context.js';
export { defaultSerializeError, type EventHandler, type RequestHandler, type Subscribable, type Unsubscribable } from './server/handler.js';
export type {
  CallEndMessage,
  CallOutcome,
  CallStartMessage,
  ClientCallStartMessage,
  ContextRunner,
  ServerCallStartMessage,
} from './diagnostics.js';
export { RpcServer, type RpcListenOptions, type RpcServerEvents, type RpcServerOptions } from './server/server.js';
export type { RpcServerHooks, RpcServerSettings } from './server/options.js';
export {
  BadRequestError,
  CancelledError,
  ClientClosedError,
  DeadlineExceededError,
  DuplicateCallIdError,
  InvalidMetadataError,
  NoHandlerError,
  NoReadyEndpointError,
  ObserverError,
  PeerUnresponsiveError,
  RefusedError,
  RemoteError,
  RequestTooLargeError,
  ServerErrorCode,
  ServerStateError,
  ShuttingDownError,
  SlowConsumerError,
  UnsupportedByProfileError,
  TooManyCallsError,
  type BufferLimit,
} from './errors.js';
