import { InvalidOptionError } from '../core/errors.js';

/**
 * A duration option in ms that may be off: undefined or 0 is off (undefined is returned),
 * anything else must be a positive finite number, or the constructor that read it throws
 * ERR_INVALID_OPTION naming the option.
 */
export function durationOption(name: string, value: number | undefined): number | undefined {
  if (value === undefined || value === 0) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(name, `${name} must be a non-negative number of milliseconds, got ${String(value)}`);
  }
  return value;
}
