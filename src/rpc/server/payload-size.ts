/**
 * What one queued stream item costs the server, roughly, in bytes: what `maxBufferedBytes`
 * counts. Not the encoded size (the item is not encoded until it is sent), but the same order:
 * bytes by their length, strings by their length (1 byte a character, as V8 keeps ASCII),
 * numbers and other scalars 8, plus PER_VALUE for each array, object or entry. The walk is
 * bounded: past MAX_DEPTH levels, or after MAX_NODES values, the rest counts as PER_VALUE each
 * level, so a deep or cyclic value costs a bounded walk.
 */
export function payloadSize(value: unknown): number {
  const walk = { nodes: 0 };
  return PER_ITEM + sizeOf(value, 0, walk);
}

/** The queue slot and the frame header of an item, whatever its value. */
const PER_ITEM = 16;
const PER_VALUE = 8;
const MAX_DEPTH = 8;
const MAX_NODES = 4096;

function sizeOf(value: unknown, depth: number, walk: { nodes: number }): number {
  switch (typeof value) {
    case 'string':
      return value.length;
    case 'object': {
      if (value === null) return PER_VALUE;
      if (ArrayBuffer.isView(value)) return value.byteLength;
      if (depth >= MAX_DEPTH || walk.nodes >= MAX_NODES) return PER_VALUE;
      let size = PER_VALUE;
      if (Array.isArray(value)) {
        for (const entry of value as unknown[]) {
          if (++walk.nodes > MAX_NODES) break;
          size += PER_VALUE + sizeOf(entry, depth + 1, walk);
        }
        return size;
      }
      for (const key in value) {
        if (++walk.nodes > MAX_NODES) break;
        size += key.length + PER_VALUE + sizeOf((value as Record<string, unknown>)[key], depth + 1, walk);
      }
      return size;
    }
    default:
      return PER_VALUE;
  }
}
