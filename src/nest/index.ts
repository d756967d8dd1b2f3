// The public surface of `nestjs-protosocket` (api/nestjs-protosocket.api.md records it; `npm run api:update`).
export { ProtosocketServer, type ProtosocketServerStatus } from './server/protosocket.server.js';
export { ProtosocketClient, type ProtosocketCallOptions } from './client/protosocket.client.js';
export { ProtosocketContext, type ProtosocketContextArgs } from './ctx-host/protosocket.context.js';
export {
  ProtosocketModule,
  type CodecProvider,
  type ProtosocketClientAsyncRegistration,
  type ProtosocketClientRegistration,
  type ProtosocketRootOptions,
} from './module/protosocket.module.js';
export type { NestPacketOptions, ProtosocketClientOptions, ProtosocketClientSettings, ProtosocketServerOptions } from './options.js';
export { CallAbortedException, InvalidPatternError } from './errors.js';
export type { ConnectionErrorCounts } from './server/connection-diagnostics.js';
export {
  NO_MESSAGE_HANDLER,
  PROTOSOCKET_CODEC,
  PROTOSOCKET_SERVER_OPTIONS,
  PROTOSOCKET_TRANSPORT,
} from './constants.js';
// The codec and every error a Nest user can receive, so the package root is enough for Nest users.
export { jsonCodec } from '../rpc/wire/json-codec.js';
export type { WireProtocol } from '../rpc/wire/profile.js';
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
} from '../rpc/errors.js';
export {
  ConnectTimeoutError,
  ConnectionClosedError,
  EncodeError,
  FrameTimeoutError,
  FrameTooLargeError,
  InboundBudgetError,
  InvalidOptionError,
  ProtocolError,
  ProtosocketError,
  QueueFullError,
  ReactorError,
} from '../core/errors.js';
export type { Codec, Decoder, Encoder } from '../core/codec.js';
// The types the options and the context use, so Nest users can name them.
export type { ConnectionLimits, SocketOptions } from '../core/options.js';
export type { BackoffOptions } from '../rpc/client/backoff.js';
export type { BalancerName } from '../rpc/client/balancer.js';
export type { RetryPolicy } from '../rpc/client/call.js';
export type { RpcClientEndpoints } from '../rpc/client/options.js';
export type { DnsEndpoint, EndpointResolver, EndpointSpec } from '../rpc/client/resolver.js';
export type { CallContext, PeerInfo } from '../rpc/server/call-context.js';
export type { Metadata, RpcFrame } from '../rpc/wire/frame.js';
