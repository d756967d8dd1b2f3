/**
 * Per-call flow control (docs/PROTOCOL.md §9.2): the server may send a streamed call at most
 * `credit` Normal items; the client raises it with Credit frames as its consumer reads.
 *
 *   request ─────────> credit = STREAM_WINDOW (no round trip at the start of a call)
 *   each Normal item ─> credit - 1; at 0 the server stops producing that call (others go on)
 *   Credit id n ─────> credit + n
 *
 * Counted in items, not bytes: what a window protects is the consumer's buffer, which holds
 * items and is drained an item at a time; an item's size is already bounded by maxFrameBytes,
 * and the bytes in flight by the connection's own backpressure. Reply, End and Error end a call
 * and need no credit, so a unary call never waits for any.
 */

/** The credit every call starts with, in items. Fixed by the protocol: both peers know it without a handshake. */
export const STREAM_WINDOW = 1024;

/** A consumer grants credit back once it has taken this many items (half the window, so the server never runs dry while the consumer keeps up). */
export const GRANT_BATCH = STREAM_WINDOW / 2;

/** Credit never grows past a u32, however many grants a peer sends. */
export const MAX_CREDIT = 0xffff_ffff;

/** A Credit frame's `data`: a whole number of items in 1..2^32-1. */
export function isCreditGrant(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_CREDIT;
}
