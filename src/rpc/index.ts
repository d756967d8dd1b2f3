export { ControlCode, CONTROL_CODE_LIMIT } from './control-code.js';
export { MAX_CALL_ID, type Metadata, type RpcFrame } from './frame.js';
export type { CallObserver, CallOptions } from './call.js';
export { CallContext, type PeerInfo } from './call-context.js';
export {
  defaultSerializeError,
  isAsyncIterable,
  isSubscribable,
  type EventHandler,
  type RequestHandler,
  type Subscribable,
  type Unsubscribable,
} from './handler.js';
export { jsonCodec, jsonDecoder, jsonEncoder } from './json-codec.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export { ClientSession, type CallHandle } from './client-session.js';
export { RpcClient, type RpcClientEvents, type RpcClientOptions, type RpcClientStatus } from './client.js';
export { RpcServer, type RpcListenOptions, type RpcServerEvents, type RpcServerOptions } from './server.js';
export {
  CancelledError,
  ClientClosedError,
  DeadlineExceededError,
  RemoteError,
  ServerErrorCode,
  ShuttingDownError,
  SlowConsumerError,
} from './errors.js';
