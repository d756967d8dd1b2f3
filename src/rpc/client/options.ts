import type { Codec } from '../../core/codec.js';
import type { DialOptions } from '../../core/connect.js';
import type { Endpoint } from '../../core/endpoint.js';
import type { ConnectionLimits, SocketOptions } from '../../core/options.js';
import type { RpcFrame } from '../wire/frame.js';
import type { WireProtocol } from '../wire/profile.js';
import type { BackoffOptions } from './backoff.js';

/**
 * Everything an `RpcClient` is configured with: the server's endpoint (TCP `host`/`port`, or
 * `path`) and the settings below. The Nest client takes these same options, passed down by
 * spread, so a setting added here reaches it without another line.
 */
export type RpcClientOptions = Endpoint & RpcClientSettings;

/** An `RpcClient`'s options apart from the endpoint. */
export interface RpcClientSettings extends DialOptions, SocketOptions {
  /** The wire format, both directions. Default: the JSON codec. */
  codec?: Codec<RpcFrame, RpcFrame>;
  /**
   * The conversation rules: `native` (default), or `protosocket-rpc` to call stock
   * protosocket-rpc 2.x servers (docs/PROTOCOL.md §12): codes 0-2 only; `call()` (and `open()`
   * by default) is unary, settled by the first Normal; `stream()` (or `{ stream: true }`) reads
   * Normal* End; no events and no ping. The codec must have a protosocket-rpc form
   * (msgpackCodec, protobufCodec).
   */
  protocol?: WireProtocol;
  limits?: ConnectionLimits;
  /** Default per-call time budget in ms; 0 means none. Per call: `{ timeoutMs }` in the call options. Default 0. */
  timeoutMs?: number;
  /** Reconnect in the background after an established connection drops (100 ms doubling to 5 s, with jitter, by default). Default on; false disables. */
  reconnect?: BackoffOptions | false;
  /** Items a stream buffers for a slow consumer before the connection stops reading. Default 1024. */
  streamHighWaterMark?: number;
  /** How long `close()` waits for calls in flight before closing the connection. Default 5000 ms. */
  closeTimeoutMs?: number;
  /**
   * Heartbeat: after this much silence from the server (no frame received) the client sends a
   * Ping. 0 disables it. Default 30 000 ms.
   */
  keepaliveIntervalMs?: number;
  /**
   * How long the server may then stay silent (no Pong, no frame) before the connection is
   * closed with ERR_PEER_UNRESPONSIVE, failing its calls with it; the client then reconnects.
   * Default 10 000 ms.
   */
  keepaliveTimeoutMs?: number;
}
