/**
 * What one queued stream item costs the server, roughly, in bytes: what `maxBufferedBytes`
 * counts. Not the encoded size (the item is not encoded until it is sent), but the same order:
 * bytes by their length, strings by their length (1 byte a character, as V8 keeps ASCII),
 * numbers and other scalars 8, plus PER_VALUE for each array, object or entry. The walk is
 * bounded: past MAX_DEPTH levels, or after MAX_NODES values, the rest counts as PER_VALUE each
 * level, so a deep or cyclic value costs a bounded walk.
 */
export function payloadSize(value: unknown): number {
  // Every item of a stream queued for credit is sized (W5 via Nest queues most of its items):
  // a string, the commonest payload, without a walk; the walk's count in a module variable,
  // not an object per item. A getter read during the walk may start another walk (user code):
  // each keeps its own count, the outer one saved and restored around the inner.
  if (typeof value === 'string') return PER_ITEM + value.length;
  const outer = walked;
  walked = 0;
  try {
    return PER_ITEM + sizeOf(value, 0);
  } finally {
    walked = outer;
  }
}

/** Values visited by the walk in progress (see payloadSize). */
let walked = 0;

/** The queue slot and the frame header of an item, whatever its value. */
const PER_ITEM = 16;
const PER_VALUE = 8;
const MAX_DEPTH = 8;
const MAX_NODES = 4096;

function sizeOf(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
      return value.length;
    case 'object': {
      if (value === null) return PER_VALUE;
      if (ArrayBuffer.isView(value)) return value.byteLength;
      if (depth >= MAX_DEPTH || walked >= MAX_NODES) return PER_VALUE;
      let size = PER_VALUE;
      if (Array.isArray(value)) {
        for (const entry of value as unknown[]) {
          if (++walked > MAX_NODES) break;
          size += PER_VALUE + sizeOf(entry, depth + 1);
        }
        return size;
      }
      for (const key in value) {
        if (++walked > MAX_NODES) break;
        size += key.length + PER_VALUE + sizeOf((value as Record<string, unknown>)[key], depth + 1);
      }
      return size;
    }
    default:
      return PER_VALUE;
  }
}
