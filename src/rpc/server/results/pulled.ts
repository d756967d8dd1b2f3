import type { ResultTarget } from './target.js';

/** An AsyncIterable result (a Buffer is a value, not a stream). */
export function isPulledStream(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function' && !(value instanceof Uint8Array);
}

/**
 * Streams an AsyncIterable: Normal per item, then End; a throw becomes the Error. The next
 * item is pulled only once the call's writer has room, so a client that stops reading stops
 * the producer (connection-driven backpressure).
 */
export async function pullResult(call: ResultTarget, source: AsyncIterable<unknown>): Promise<void> {
  const iterator = source[Symbol.asyncIterator]();
  call.setProducer(() => void iterator.return?.()?.then(undefined, () => {}));
  try {
    // `item` says whether there is still room, so `writable` is asked only before the first
    // pull and after a wait: one writability check per item, not two (W5's per-item cost).
    let room = call.writable;
    for (;;) {
      if (!room) await call.whenWritable();
      if (call.done) return;
      const step = await iterator.next();
      if (call.done) return;
      if (step.done === true) {
        call.setProducer(undefined);
        call.end();
        return;
      }
      room = call.item(step.value);
    }
  } catch (err) {
    if (call.done) return;
    call.setProducer(undefined);
    call.fail(err);
  }
}

/** A result that arrived after its call ended: make sure its producer does not run on. */
export function discardResult(result: unknown): void {
  if (isPulledStream(result)) void result[Symbol.asyncIterator]().return?.()?.then(undefined, () => {});
}
