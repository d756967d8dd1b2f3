import { IntrinsicException } from '@nestjs/common';
import { codeOf } from '../core/diagnostics.js';
import { ProtosocketError } from '../core/errors.js';

/**
 * A pattern the wire cannot carry exactly: it holds a lone UTF-16 surrogate, which UTF-8 cannot
 * encode (it would arrive as U+FFFD and match no handler). Refused at the client instead.
 */
export class InvalidPatternError extends ProtosocketError {
  static readonly code = 'ERR_INVALID_PATTERN';

  constructor(pattern: string) {
    super(InvalidPatternError.code, `pattern ${JSON.stringify(pattern)} holds a lone UTF-16 surrogate, which the wire (UTF-8) cannot carry`);
  }
}

/**
 * `ctx.signal.reason` for a Nest handler whose call was aborted: by its client (ERR_CANCELLED),
 * its deadline (ERR_DEADLINE_EXCEEDED), a lost connection (ERR_CONNECTION_CLOSED) or the server
 * shutting down (ERR_SHUTTING_DOWN). `code` is the protosocket code, `cause` the protosocket
 * error itself.
 *
 * It is a Nest `IntrinsicException`, not a ProtosocketError, on purpose: a handler that gives
 * up by rethrowing the abort reason (`signal.throwIfAborted()`, a `fetch` with the signal) is
 * normal operation, and Nest's default exception filter logs every other error as ERROR with
 * its stack. Nobody waits for that call's answer any more, so nothing else is lost.
 */
export class CallAbortedException extends IntrinsicException {
  readonly code: string;

  constructor(reason: unknown) {
    super(reason instanceof Error ? reason.message : 'call aborted', { cause: reason });
    this.name = 'CallAbortedException';
    this.code = codeOf(reason) ?? 'ERR_CANCELLED';
  }
}
