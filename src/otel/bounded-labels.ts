/** The label every value past the cap is reported under. */
export const OTHER_LABEL = '_OTHER';

/**
 * Keeps a metric attribute's cardinality bounded: the first `limit` distinct values each get an
 * entry of their own (made once by `create`, then reused), every later one shares the `_OTHER`
 * entry. Patterns come from the wire on the server side, so without a cap one misbehaving client
 * could create a time series per request. Only the first `limit` values are remembered, so the
 * memory is bounded too.
 */
export class BoundedLabels<Entry> {
  private readonly entries = new Map<string, Entry>();
  private other: Entry | undefined;

  constructor(
    private readonly limit: number,
    private readonly create: (label: string) => Entry,
  ) {}

  /** The entry `value` is reported under. A value spelled `_OTHER` is the `_OTHER` entry. */
  get(value: string): Entry {
    const known = this.entries.get(value);
    if (known !== undefined) return known;
    if (value === OTHER_LABEL || this.entries.size >= this.limit) return (this.other ??= this.create(OTHER_LABEL));
    const created = this.create(value);
    this.entries.set(value, created);
    return created;
  }

  /** Every entry made so far, each once. */
  *all(): IterableIterator<Entry> {
    yield* this.entries.values();
    if (this.other !== undefined) yield this.other;
  }
}

/** The label of a string attribute bounded as `BoundedLabels` bounds it. */
export function boundedStrings(limit: number): BoundedLabels<string> {
  return new BoundedLabels(limit, (label) => label);
}
