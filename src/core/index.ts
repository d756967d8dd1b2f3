export { NEED_MORE, type Codec, type Decoder, type Encoder } from './codec.js';
export { OutboundBuffer } from './outbound-buffer.js';
export { FrameReader, INCOMPLETE } from './frame-reader.js';
export { LENGTH_PREFIX_BYTES, lengthPrefixedFrameSize, writeLengthPrefixed } from './length-prefixed.js';
export { rawCodec, rawDecoder, rawEncoder } from './raw-codec.js';
export {
  Connection,
  type ConnectionEvents,
  type ConnectionOptions,
  type ConnectionState,
  type Reactor,
  type ReactorFactory,
} from './connection.js';
export { DEFAULT_LIMITS, type ConnectionLimits, type SocketOptions } from './options.js';
export { Listener, listen, type ListenOptions, type ListenerEvents } from './listener.js';
export { connect, type ConnectOptions } from './connect.js';
export type { Endpoint, IpcEndpoint, TcpEndpoint } from './endpoint.js';
export type { BindOptions } from './listener.js';
export type { DialOptions } from './connect.js';
export {
  ConnectTimeoutError,
  ConnectionClosedError,
  EncodeError,
  FrameTimeoutError,
  FrameTooLargeError,
  ProtocolError,
  ProtosocketError,
  QueueFullError,
  ReactorError,
} from './errors.js';
