import { codeOf } from '../../core/diagnostics.js';
import { messageOf } from '../../core/errors.js';

/** Connections ended by a peer fault, by error code. */
export type ConnectionErrorCounts = Readonly<Record<string, number>>;

/** Counted under this code: a TLS handshake that failed (the TLS error's own code is in the log line). */
export const TLS_HANDSHAKE_FAILED = 'ERR_TLS_HANDSHAKE';

/**
 * Why a connection may end that says something about the peer (or the network), not about a
 * call: these are logged and counted. A peer closing or resetting its connection is normal
 * operation, and neither.
 */
const PEER_FAULTS: ReadonlySet<string> = new Set([
  'ERR_PROTOCOL',
  'ERR_FRAME_TOO_LARGE',
  'ERR_FRAME_TIMEOUT',
  'ERR_QUEUE_FULL',
  'ERR_REACTOR',
]);

/** At most this many warnings per window; the first line after a quiet-forced gap says how many were left out. */
const WARNINGS_PER_WINDOW = 10;
const WINDOW_MS = 60_000;

export interface WarnLogger {
  warn(message: string): void;
}

/**
 * The server's record of peer faults: every one is counted; warnings are rate-limited, so a
 * flood of bad peers costs a bounded number of log lines (WARNINGS_PER_WINDOW per WINDOW_MS)
 * and nothing else. No timer: a window starts with the first fault after the previous ended.
 */
export class ConnectionDiagnostics {
  private readonly byCode = new Map<string, number>();
  private windowStart = -Infinity;
  private warnedInWindow = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: WarnLogger,
    private readonly now: () => number = Date.now,
  ) {}

  /** A connection closed with `err`; counted and logged only if it is a peer fault. */
  connectionClosed(err: Error, peer: string | undefined): void {
    const code = codeOf(err);
    if (code === undefined || !PEER_FAULTS.has(code)) return;
    this.record(code, `connection from ${peer ?? 'an unknown peer'} closed: ${err.message}`);
  }

  handshakeFailed(err: Error, peer: string | undefined): void {
    const cause = codeOf(err);
    this.record(TLS_HANDSHAKE_FAILED, `TLS handshake with ${peer ?? 'an unknown peer'} failed${cause === undefined ? '' : ` (${cause})`}: ${messageOf(err)}`);
  }

  counts(): ConnectionErrorCounts {
    return Object.fromEntries(this.byCode);
  }

  private record(code: string, message: string): void {
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
    const now = this.now();
    if (now - this.windowStart >= WINDOW_MS) {
      this.windowStart = now;
      this.warnedInWindow = 0;
    }
    if (this.warnedInWindow >= WARNINGS_PER_WINDOW) {
      this.suppressed++;
      return;
    }
    this.warnedInWindow++;
    const leftOut = this.suppressed > 0 ? ` (${this.suppressed} similar warnings left out before this one; see connectionErrors)` : '';
    this.suppressed = 0;
    this.logger.warn(`${code}: ${message}${leftOut}`);
  }
}
