import { ProtosocketError } from '../../core/errors.js';

/** A health check's round trip did not complete within its `timeoutMs`. */
export class HealthCheckTimeoutError extends ProtosocketError {
  static readonly code = 'ERR_HEALTH_TIMEOUT';

  constructor(timeoutMs: number) {
    super(HealthCheckTimeoutError.code, `no answer within ${timeoutMs} ms`);
  }
}
