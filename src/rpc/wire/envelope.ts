import { EncodeError, messageOf, ProtocolError } from '../../core/errors.js';
import { type ControlCode, isControlCode } from './control-code.js';
import { MAX_CALL_ID, type Metadata, type RpcFrame } from './frame.js';

/**
 * Rules every codec applies to the fields of an RpcFrame (docs/PROTOCOL.md, "Envelope"), so
 * that the codecs agree on what a valid frame is whatever their byte layout. Every codec's
 * encoder calls `checkOutbound` first; its decoder checks what it read with the predicates
 * below and keeps byte payloads through `ownBytes`.
 */

export { isControlCode };

/** `timeoutMs` travels as a u32. */
export const MAX_TIMEOUT_MS = 0xffff_ffff;

/**
 * Byte payloads under this size are copied out of the read buffer when decoded, so a small
 * payload kept by the application does not pin a whole socket chunk. Larger ones stay views.
 */
export const COPY_BYTES_BELOW = 16 * 1024;

export function isCallId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_CALL_ID;
}

export function isWireTimeout(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_TIMEOUT_MS;
}

/** The budget as sent: whole milliseconds, rounded up (a budget never shrinks to 0 by rounding), within u32. */
export function wireTimeout(timeoutMs: number): number {
  return Math.min(Math.max(0, Math.ceil(timeoutMs)), MAX_TIMEOUT_MS);
}

/** Refuses (ERR_ENCODE, before a byte is written) an id or a code that no decoder would accept. */
export function checkOutbound(frame: RpcFrame): void {
  if (!isCallId(frame.id)) throw EncodeError.withReason(`call id must be an integer in 0..${MAX_CALL_ID}, got ${frame.id}`);
  if (!isControlCode(frame.code)) throw EncodeError.withReason(`unknown control code ${String(frame.code)}`);
}

/** A decoded byte payload as a Buffer the application may keep (see COPY_BYTES_BELOW). */
export function ownBytes(view: Uint8Array): Buffer {
  if (view.byteLength < COPY_BYTES_BELOW) return Buffer.from(view);
  return Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** Metadata is string to string: a peer's other values must not reach handlers typed as strings. */
export function checkMeta(value: unknown): Metadata {
  const problem = metaProblem(value);
  if (problem !== undefined) throw new ProtocolError(problem);
  return value as Metadata;
}

/** What makes `value` unfit as metadata (naming the key), or undefined when it is string to string. */
export function metaProblem(value: unknown): string | undefined {
  if (!isPlainObject(value)) return 'meta must be an object of strings';
  for (const key in value) {
    if (typeof value[key] !== 'string') return `meta value for key ${JSON.stringify(key)} must be a string, got ${typeName(value[key])}`;
  }
  return undefined;
}

/**
 * A frame whose id and code were read but whose content is bad (RpcFrame.invalid): it fails
 * its own call, not the connection.
 */
export function invalidFrame(id: number, code: ControlCode, err: unknown): RpcFrame {
  const invalid = err instanceof ProtocolError ? err : new ProtocolError(`invalid frame content: ${messageOf(err)}`, { cause: err });
  return { id, code, invalid };
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** JSON text of a frame's field (`what`: 'payload', 'meta'), or a ProtocolError that says which field. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ProtocolError(`invalid JSON ${what}: ${messageOf(err)}`, { cause: err });
  }
}
