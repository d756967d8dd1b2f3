// The public surface of `nestjs-protosocket/core` (api/core.api.md records it; `npm run api:update`).
// Internal on purpose: FrameReader and its INCOMPLETE sentinel (the connection's read loop;
// decoders use NEED_MORE), BoundedCache, resolveLimits.
export { NEED_MORE, PEEK_PREFIX_BYTES, type Codec, type Decoder, type Encoder } from './codec.js';
export { OutboundBuffer } from './outbound-buffer.js';
export { MAX_SKIPPED_FRAME_FACTOR, OversizedFrame } from './frame-reader.js';
export { InboundBudget, type BudgetHolder } from './inbound-budget.js';
export { LENGTH_PREFIX_BYTES, lengthPrefixedFrameSize, writeLengthPrefixed } from './length-prefixed.js';
export { rawCodec } from './raw-codec.js';
export {
  Connection,
  MAX_OVERSIZED_IN_A_ROW,
  type ConnectionEvents,
  type ConnectionOptions,
  type ConnectionState,
  type Reactor,
  type ReactorFactory,
} from './connection.js';
export { DEFAULT_LIMITS, type ConnectionLimits, type ResolvedLimits, type SocketOptions } from './options.js';
export { Listener, listen, type ListenOptions, type ListenerEvents } from './listener.js';
export { connect, type ConnectOptions } from './connect.js';
export type { Endpoint, IpcEndpoint, TcpEndpoint } from './endpoint.js';
export type {
  ConnectionCloseMessage,
  ConnectionOpenMessage,
  ConnectionSide,
  FrameErrorMessage,
  ObservedConnection,
} from './diagnostics.js';
export type { BindOptions } from './listener.js';
export type { DialOptions } from './connect.js';
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
} from './errors.js';
