import diagnosticsChannel from 'node:diagnostics_channel';
import { FrameTimeoutError, FrameTooLargeError, ProtocolError } from './errors.js';

/**
 * The connection-level diagnostics channels (node:diagnostics_channel), as undici publishes
 * its own. Their names and message shapes are a stable interface (README, "Operations").
 *
 * Cost rule: every publish site checks `channel.hasSubscribers` before it builds a message,
 * so with no subscriber a site costs one property read.
 */

/**
 * A connection as channel messages show it: read-only facts, the same object (a `Connection`)
 * in every message about it, so subscribers can key a WeakMap on it.
 */
export interface ObservedConnection {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** Totals since the connection opened: encoded frame bytes and frames queued for sending, socket bytes read and frames decoded. */
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly framesSent: number;
  readonly framesReceived: number;
}

/** Which end of the connection this process is. */
export type ConnectionSide = 'client' | 'server';

/** `protosocket:connection:open`: a connection can carry messages (connected, or accepted; after TLS). */
export interface ConnectionOpenMessage {
  readonly connection: ObservedConnection;
  readonly side: ConnectionSide;
}

/** `protosocket:connection:close`: a connection closed, once, after its reactor was told. */
export interface ConnectionCloseMessage {
  readonly connection: ObservedConnection;
  /** Undefined for a clean close. */
  readonly reason: Error | undefined;
  /** The reason's `code` (ERR_FRAME_TOO_LARGE, ECONNRESET...), undefined for a clean close or a reason without one. */
  readonly code: string | undefined;
}

/**
 * `protosocket:frame:error`: a connection is being destroyed because the peer broke the framing
 * or the protocol (ERR_FRAME_TOO_LARGE inbound, ERR_FRAME_TIMEOUT, ERR_PROTOCOL). Published
 * before the matching `connection:close`.
 */
export interface FrameErrorMessage {
  readonly connection: ObservedConnection;
  readonly error: Error;
  readonly code: string;
}

export const connectionOpenChannel = diagnosticsChannel.channel('protosocket:connection:open');
export const connectionCloseChannel = diagnosticsChannel.channel('protosocket:connection:close');
export const frameErrorChannel = diagnosticsChannel.channel('protosocket:frame:error');

/** Call only after checking `connectionOpenChannel.hasSubscribers`. */
export function publishConnectionOpen(connection: ObservedConnection, side: ConnectionSide): void {
  const message: ConnectionOpenMessage = { connection, side };
  connectionOpenChannel.publish(message);
}

/** Call only after checking `connectionCloseChannel.hasSubscribers`. */
export function publishConnectionClose(connection: ObservedConnection, reason: Error | undefined): void {
  const message: ConnectionCloseMessage = { connection, reason, code: codeOf(reason) };
  connectionCloseChannel.publish(message);
}

/** Call only after checking `frameErrorChannel.hasSubscribers`; publishes only for framing and protocol errors. */
export function publishIfFrameError(connection: ObservedConnection, reason: Error | undefined): void {
  if (!(reason instanceof ProtocolError || reason instanceof FrameTooLargeError || reason instanceof FrameTimeoutError)) return;
  const message: FrameErrorMessage = { connection, error: reason, code: reason.code };
  frameErrorChannel.publish(message);
}

/** The stable `code` of an error (ours, or Node's errno code), if it has one. */
export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
