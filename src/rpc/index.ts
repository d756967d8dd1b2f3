export { ControlCode, CONTROL_CODE_LIMIT } from './wire/control-code.js';
export { MAX_CALL_ID, type Metadata, type RpcFrame } from './wire/frame.js';
export type { CallObserver, CallOptions } from './client/call.js';
export { CallContext, type PeerInfo } from './server/call-context.js';
export {
  defaultSerializeError,
  isAsyncIterable,
  isSubscribable,
  type EventHandler,
  type RequestHandler,
  type Subscribable,
  type Unsubscribable,
} from './server/handler.js';
export { jsonCodec, jsonDecoder, jsonEncoder } from './wire/json-codec.js';
export { Backoff, type BackoffOptions } from './client/backoff.js';
export { ClientSession, type CallHandle } from './client/session.js';
export { RpcClient, type RpcClientEvents, type RpcClientOptions, type RpcClientStatus } from './client/client.js';
export { RpcServer, type RpcListenOptions, type RpcServerEvents, type RpcServerOptions } from './server/server.js';
export {
  CancelledError,
  ClientClosedError,
  DeadlineExceededError,
  DuplicateCallIdError,
  NoHandlerError,
  RemoteError,
  ServerErrorCode,
  ServerStateError,
  ShuttingDownError,
  SlowConsumerError,
} from './errors.js';
