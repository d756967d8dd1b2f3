import type tls from 'node:tls';
import type { Decoder, Encoder } from '../core/codec.js';
import type { ConnectionLimits, SocketOptions } from '../core/options.js';
import type { BackoffOptions } from '../rpc/client/backoff.js';
import type { RpcFrame } from '../rpc/wire/frame.js';

export interface CodecOptions {
  /** Default: the JSON codec's encoder (or the PROTOSOCKET_ENCODER provider when built by the module). */
  encoder?: Encoder<RpcFrame>;
  /** Default: the JSON codec's decoder (or the PROTOSOCKET_DECODER provider when built by the module). */
  decoder?: Decoder<RpcFrame>;
}

export interface ProtosocketServerOptions extends CodecOptions, SocketOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port, read back from `server.port`. */
  port?: number;
  /** A Unix socket path instead of TCP. */
  path?: string;
  backlog?: number;
  /** Serve TLS (key/cert; ca + requestCert for client certificates). */
  tls?: tls.TlsOptions;
  limits?: ConnectionLimits;
  /** Calls in flight per connection before the server stops reading from it. Default 1024. */
  maxConcurrentCalls?: number;
  /** Items an Observable reply may buffer while its client is not reading. Default 16384. */
  maxBufferedItems?: number;
  /** How long `close()` lets calls in flight finish. Default 10 000 ms. */
  drainTimeoutMs?: number;
}

export interface ProtosocketClientOptions extends CodecOptions, SocketOptions {
  /** Default 127.0.0.1. */
  host?: string;
  port?: number;
  path?: string;
  tls?: tls.ConnectionOptions;
  limits?: ConnectionLimits;
  /** Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Default time budget per call in ms (0: none). Per call: `send(pattern, data, { timeoutMs })`. */
  timeout?: number;
  /** Background reconnect after a drop. Default on (100 ms doubling to 5 s, with jitter); false disables. */
  reconnect?: BackoffOptions | false;
  /** How long `close()` waits for calls in flight. Default 5000 ms. */
  closeTimeoutMs?: number;
}
