import { InvalidOptionError } from './errors.js';

/**
 * Per-connection limits. Every limit has a default chosen so a bad or slow peer costs a
 * bounded amount of memory; raise them deliberately.
 */
export interface ConnectionLimits {
  /** Largest inbound frame accepted, checked from the header before the body is buffered. Also refuses larger outbound frames. Default 16 MiB. */
  maxFrameBytes?: number;
  /** `send` returns false once this many bytes are queued (batch + socket buffer). Default 1 MiB. */
  highWaterMark?: number;
  /** `send` throws `ERR_QUEUE_FULL` once this many bytes are queued. Default 64 MiB. */
  maxQueuedBytes?: number;
  /** A tick's batch is flushed early once it holds this many bytes. Default 128 KiB. */
  flushBytes?: number;
  /**
   * While part of a frame is buffered, some frame must complete within this many ms (time with
   * reading paused does not count), or the connection closes with `ERR_FRAME_TIMEOUT`: a peer
   * that stalls mid-frame cannot hold the buffer forever. Default 30 000.
   */
  frameTimeoutMs?: number;
  /**
   * Listeners only: bytes that all of one listener's connections together may hold in partial
   * frames (and in whole frames waiting while reading is paused). When arriving bytes take the
   * total over it, the connection holding the most is closed with `ERR_INBOUND_BUDGET`.
   * Default 256 MiB (sixteen frames of the default maxFrameBytes), or 2 x maxFrameBytes if
   * that is more. Must be at least maxFrameBytes.
   */
  maxInboundBytes?: number;
}

export interface SocketOptions {
  /** Disable Nagle's algorithm (frames leave at once; batching is done per tick). Default true. */
  noDelay?: boolean;
  /** TCP keepalive: false, true, or the initial delay in ms. Default false. */
  keepAlive?: boolean | number;
}

/** Every limit, defaults filled in: what a connection enforces (`connection.limits`). */
export type ResolvedLimits = Required<ConnectionLimits>;

export const DEFAULT_LIMITS: ResolvedLimits = Object.freeze({
  maxFrameBytes: 16 * 1024 * 1024,
  highWaterMark: 1024 * 1024,
  maxQueuedBytes: 64 * 1024 * 1024,
  flushBytes: 128 * 1024,
  frameTimeoutMs: 30_000,
  maxInboundBytes: 256 * 1024 * 1024,
});

export function resolveLimits(limits: ConnectionLimits | undefined): ResolvedLimits {
  const given = definedOnly(limits);
  const resolved = { ...DEFAULT_LIMITS, ...given };
  if (given.maxInboundBytes === undefined) resolved.maxInboundBytes = Math.max(DEFAULT_LIMITS.maxInboundBytes, 2 * resolved.maxFrameBytes);
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InvalidOptionError(name, `${name} must be a positive integer, got ${value}`);
    }
  }
  if (resolved.maxInboundBytes < resolved.maxFrameBytes) {
    throw new InvalidOptionError('maxInboundBytes', `maxInboundBytes (${resolved.maxInboundBytes}) must be at least maxFrameBytes (${resolved.maxFrameBytes})`);
  }
  return resolved;
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
