import { InvalidOptionError } from '../core/errors.js';
import type { CallOptions } from '../rpc/client/call.js';
import type { RpcClientOptions } from '../rpc/client/options.js';
import type { RpcListenOptions, RpcServerSettings } from '../rpc/server/options.js';
import { CLIENT_OPTION_KEYS, type NestPacketOptions, type ProtosocketClientSettings, type ProtosocketClientOptions, type ProtosocketServerOptions, SERVER_OPTION_KEYS } from './options.js';

type Side = 'ProtosocketClient' | 'ProtosocketServer';

/**
 * Transport.TCP option names a migrating user brings along, and what to use instead. Only
 * `tlsOptions` means exactly what a protosocket option means, and is taken as an alias; the
 * others differ in meaning or unit, so they are refused with the equivalent named rather than
 * translated into something subtly different.
 */
const TCP_OPTIONS: Record<string, Record<Side, string>> = {
  retryAttempts: {
    ProtosocketClient: 'use `reconnect: { initialDelayMs, maxDelayMs, multiplier }`: the client reconnects with backoff until close(), without an attempt count',
    ProtosocketServer: 'it has no equivalent here: the server does not re-listen after its listener closes (`reconnect` is the client\'s)',
  },
  retryDelay: {
    ProtosocketClient: 'use `reconnect: { initialDelayMs, maxDelayMs }` (a fixed delay is initialDelayMs = maxDelayMs)',
    ProtosocketServer: 'it has no equivalent here: the server does not re-listen after its listener closes (`reconnect` is the client\'s)',
  },
  maxBufferSize: {
    ProtosocketClient: 'use `limits: { maxFrameBytes }` (bytes per frame, not characters of buffered JSON)',
    ProtosocketServer: 'use `limits: { maxFrameBytes }` (bytes per frame, not characters of buffered JSON)',
  },
  incompleteMessageTimeout: {
    ProtosocketClient: 'use `limits: { frameTimeoutMs }` (the time a started frame may take to complete, not the silence between reads)',
    ProtosocketServer: 'use `limits: { frameTimeoutMs }` (the time a started frame may take to complete, not the silence between reads)',
  },
  maxSendBufferSize: {
    ProtosocketClient: 'use `limits: { maxQueuedBytes }` (the outbound queue past which a send fails with ERR_QUEUE_FULL)',
    ProtosocketServer: 'use `limits: { maxQueuedBytes }` (past it the connection of a client that stopped reading is closed)',
  },
  socketClass: {
    ProtosocketClient: 'it is not supported: protosocket has its own framing; a different wire format is a `codec`',
    ProtosocketServer: 'it is not supported: protosocket has its own framing; a different wire format is a `codec`',
  },
};

/**
 * Options of each call (`send`'s third argument) that a user spreading calls over several
 * servers may put on the client by mistake: refused with where they go.
 */
const PER_CALL_OPTIONS: ReadonlySet<string> = new Set<keyof CallOptions>(['waitForReady', 'affinityKey', 'retry']);

/** What a Nest-side constructor needs: the RPC layer's options, and Nest's packet options apart. */
export interface CheckedOptions<Rpc> {
  rpc: Rpc;
  packet: NestPacketOptions;
}

/**
 * Validates a client's options (see `checkOptions`); a client needs to know where its servers
 * are: a `port` or a `path`, or `endpoints` or a `resolver` (the RPC client refuses a mix).
 */
export function checkClientOptions(options: ProtosocketClientOptions): CheckedOptions<RpcClientOptions & ProtosocketClientSettings> {
  const checked = checkOptions<RpcClientOptions & ProtosocketClientSettings>('ProtosocketClient', options, CLIENT_OPTION_KEYS);
  const { port, path, endpoints, resolver } = checked.rpc;
  if (port === undefined && path === undefined && endpoints === undefined && resolver === undefined) {
    throw new InvalidOptionError(
      'port',
      'ProtosocketClient needs the server\'s `port` (TCP, with `host`, default 127.0.0.1) or `path` (a Unix socket or named pipe), or several servers as `endpoints` or a `resolver`',
    );
  }
  return checked;
}

export function checkServerOptions(options: ProtosocketServerOptions): CheckedOptions<RpcListenOptions & RpcServerSettings> {
  return checkOptions<RpcListenOptions & RpcServerSettings>('ProtosocketServer', options, SERVER_OPTION_KEYS);
}

/**
 * Every key must be one the side takes (keys whose value is undefined are ignored: nothing is
 * dropped). `tlsOptions` becomes `tls`. Nest's `serializer` / `deserializer` are split off.
 */
function checkOptions<Rpc>(side: Side, options: object, known: Readonly<Record<string, true>>): CheckedOptions<Rpc> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', `${side} options must be an object`);
  const rpc: Record<string, unknown> = {};
  const packet: NestPacketOptions = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (key === 'serializer' || key === 'deserializer') {
      packet[key] = value as never;
    } else if (key === 'tlsOptions') {
      if ((options as { tls?: unknown }).tls !== undefined) throw new InvalidOptionError(key, `${side}: give \`tls\` or its Transport.TCP name \`tlsOptions\`, not both`);
      rpc.tls = value;
    } else if (Object.hasOwn(known, key)) {
      rpc[key] = value;
    } else if (side === 'ProtosocketClient' && PER_CALL_OPTIONS.has(key)) {
      throw new InvalidOptionError(key, `${side}: \`${key}\` is an option of each call, not of the client: send(pattern, data, { ${key} })`);
    } else {
      const tcp = TCP_OPTIONS[key]?.[side];
      throw new InvalidOptionError(
        key,
        tcp === undefined ? `${side}: unknown option \`${key}\` (it takes: ${Object.keys(known).join(', ')})` : `${side}: \`${key}\` is a Transport.TCP option; ${tcp}`,
      );
    }
  }
  return { rpc: rpc as Rpc, packet };
}
