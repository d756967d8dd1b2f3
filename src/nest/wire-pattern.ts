import { InvalidPatternError } from './errors.js';

// In a `u` regexp a surrogate pair is one astral code point: only a lone surrogate is `Cs`.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The pattern as it goes on the wire (UTF-8), refused with ERR_INVALID_PATTERN when UTF-8
 * cannot carry it exactly: a lone surrogate would arrive as U+FFFD and match no handler.
 */
export function wirePattern(pattern: string): string {
  if (LONE_SURROGATE.test(pattern)) throw new InvalidPatternError(pattern);
  return pattern;
}
