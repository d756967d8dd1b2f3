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
export type { ProtosocketClientOptions, ProtosocketServerOptions } from './options.js';
export {
  NO_MESSAGE_HANDLER,
  PROTOSOCKET_CODEC,
  PROTOSOCKET_SERVER_OPTIONS,
  PROTOSOCKET_TRANSPORT,
} from './constants.js';
// The codecs and errors users match on, so the package root is enough for Nest users.
export { jsonCodec, jsonDecoder, jsonEncoder } from '../rpc/wire/json-codec.js';
export { CancelledError, ClientClosedError, DeadlineExceededError, RemoteError, ShuttingDownError, SlowConsumerError } from '../rpc/errors.js';
export {
  ConnectionClosedError,
  FrameTimeoutError,
  FrameTooLargeError,
  ProtocolError,
  ProtosocketError,
  QueueFullError,
} from '../core/errors.js';
export type { Codec, Decoder, Encoder } from '../core/codec.js';
export type { RpcFrame } from '../rpc/wire/frame.js';
