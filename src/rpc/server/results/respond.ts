import { isSubscribable } from '../handler.js';
import { discardResult, isPulledStream, pullResult } from './pulled.js';
import { pushResult } from './pushed.js';
import type { ResultTarget } from './target.js';

/**
 * Sends a handler's (awaited) result the way its shape asks:
 *
 *   Subscribable ──> pushResult: pushed, buffered while there is no room   Reply | Normal* (Reply|End) | Error
 *   AsyncIterable ─> pullResult: pulled while there is room                 Normal* End | Normal* Error
 *   anything else ─> unary: one Reply frame
 */
export function respond(call: ResultTarget, result: unknown): void {
  if (call.done) discardResult(result);
  else if (isSubscribable(result)) pushResult(call, result);
  else if (isPulledStream(result)) void pullResult(call, result);
  else call.reply(result);
}
