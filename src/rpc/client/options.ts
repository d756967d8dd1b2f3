import type { Codec } from '../../core/codec.js';
import type { DialOptions } from '../../core/connect.js';
import type { Endpoint } from '../../core/endpoint.js';
import type { ConnectionLimits, SocketOptions } from '../../core/options.js';
import type { RpcFrame } from '../wire/frame.js';
import type { WireProtocol } from '../wire/profile.js';
import type { BackoffOptions } from './backoff.js';
import type { BalancerName } from './balancer.js';
import type { DnsEndpoint, EndpointResolver, EndpointSpec } from './resolver.js';

/**
 * Everything an `RpcClient` is configured with: where its servers are (one endpoint, given
 * as TCP `host`/`port` or `path`, or `RpcClientEndpoints`) and the settings below. The Nest
 * client takes these same options, passed down by spread, so a setting added here reaches it
 * without another line.
 */
export type RpcClientOptions = Endpoint & RpcClientEndpoints & RpcClientSettings;

/**
 * Several servers, instead of `host`/`port`/`path` (give one form; a mix is ERR_INVALID_OPTION):
 *   - `endpoints`: a list (`{ host, port }`, `{ path }`, `'host:port'`, `{ dns, port }`), or
 *     one DNS name (`{ dns: 'quotes.default.svc.cluster.local', port }`) standing for all
 *     its A/AAAA addresses, looked up again every `resolveIntervalMs` and after a connection fails;
 *   - `resolver`: a function returning the list, for any other discovery system, called as often.
 */
export interface RpcClientEndpoints {
  endpoints?: readonly EndpointSpec[] | DnsEndpoint;
  resolver?: EndpointResolver;
}

/** An `RpcClient`'s options apart from where its servers are. */
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
  /** Reconnect in the background after an established connection drops (100 ms doubling to 5 s, with jitter, per endpoint, by default). Default on; false disables. */
  reconnect?: BackoffOptions | false;
  /** Items a stream buffers for a slow consumer before the connection stops reading. Default 1024. */
  streamHighWaterMark?: number;
  /** How long `close()` waits for calls in flight before closing the connections. Default 5000 ms. */
  closeTimeoutMs?: number;
  /** How calls are spread over the ready connections. Default 'p2c' (the less loaded of two at random). */
  balancer?: BalancerName;
  /** Connections to each endpoint (several workers behind one address, as with Node's `cluster`). Default 1. */
  connectionsPerEndpoint?: number;
  /** How often DNS names and the `resolver` are asked again, in ms. Default 30 000. */
  resolveIntervalMs?: number;
  /**
   * Heartbeat: after this much silence from the server (no frame received) the client sends a
   * Ping. 0 disables it. Default 30 000 ms.
   */
  keepaliveIntervalMs?: number;
  /**
   * How long the server may then stay silent (no Pong, no frame) before the connection is
   * closed with ERR_PEER_UNRESPONSIVE, failing its calls with it; the client then reconnects
   * (or another endpoint takes the calls).
   * Default 10 000 ms.
   */
  keepaliveTimeoutMs?: number;
}
