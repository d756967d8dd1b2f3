/** The label every value past the cap is reported under. */
export const OTHER_LABEL = '_OTHER';

/**
 * Keeps a metric attribute's cardinality bounded: the first `limit` distinct values are
 * reported as they are, every later one as `_OTHER`. Patterns come from the wire on the server
 * side, so without a cap one misbehaving client could create a time series per request.
 */
export class BoundedLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly limit: number) {}

  label(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.limit) return OTHER_LABEL;
    this.seen.add(value);
    return value;
  }
}
