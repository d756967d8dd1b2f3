import type { Connection } from '../../core/connection.js';
import { PeerUnresponsiveError } from '../errors.js';
import { Keepalive, type KeepaliveSettings } from '../keepalive.js';
import { SessionClock } from '../session-clock.js';
import type { RpcFrame } from '../wire/frame.js';

/** The server's time-driven settings for each connection, resolved once from its options. */
export interface UpkeepSettings {
  /** Ping a silent client; undefined: no heartbeat. */
  keepalive: KeepaliveSettings | undefined;
  /** GoAway once a connection has lived this long, ±10 % jitter; undefined: never. */
  maxAgeMs: number | undefined;
  /** After that GoAway, how long its calls may still run; undefined: as long as they take. */
  maxAgeGraceMs: number | undefined;
  /** GoAway, then close, a connection with no call and no request or event for this long; undefined: never. */
  idleTimeoutMs: number | undefined;
}

/** What the upkeep reads of its session and asks of it. */
export interface UpkeptSession {
  /** Its `framesReceived` is what the heartbeat watches: any frame shows the client is alive. */
  readonly conn: Connection<RpcFrame, RpcFrame>;
  /** Requests accepted, events received and calls finished so far: what keeps a connection from idling (Pings do not). */
  readonly activity: number;
  readonly inFlight: number;
  /** GoAway was sent (by the upkeep, or by the server's `close()`). */
  readonly draining: boolean;
  goAway(): void;
  /** Fails every call still running with ERR_SHUTTING_DOWN. */
  abandonAll(): void;
  /** Sends a heartbeat Ping. */
  ping(): void;
}

/**
 * The duties of one server connection that are due at a time, on the session's one clock:
 *
 *   heartbeat  every interval of silence a Ping; nothing heard within the timeout after it:
 *              destroyed with ERR_PEER_UNRESPONSIVE (calls fail with it; keepalive.ts)
 *   age        at maxAgeMs (±10 %): GoAway; the client moves new calls to a new connection
 *   grace      maxAgeGraceMs after that GoAway: calls still running fail with
 *              ERR_SHUTTING_DOWN and the connection closes (queued frames are written first)
 *   idle       a look every idleTimeoutMs; nothing since the last look (no call in flight,
 *              none started or finished, no event): GoAway; at the next such look, if the
 *              client has not closed the connection itself, the server closes it
 *
 * Idleness is measured like the heartbeat's silence, lazily: a connection closes after one to
 * two idle timeouts of inactivity. Heartbeat Pings are not activity, or the clients' Pings
 * would keep every connection from idling. A connection that is no longer open has no duty left.
 */
export class ServerUpkeep {
  private readonly clock = new SessionClock((now) => this.onDue(now));
  private readonly keepalive: Keepalive | undefined;
  private ageDue = Infinity;
  private graceDue = Infinity;
  private idleDue = Infinity;
  private activityAtLook = 0;

  /** The upkeep of a new session, or undefined when no duty is configured (a session then has no timer at all). */
  static start(settings: UpkeepSettings, session: UpkeptSession): ServerUpkeep | undefined {
    const { keepalive, maxAgeMs, idleTimeoutMs } = settings;
    if (keepalive === undefined && maxAgeMs === undefined && idleTimeoutMs === undefined) return undefined;
    return new ServerUpkeep(settings, session, performance.now());
  }

  private constructor(
    private readonly settings: UpkeepSettings,
    private readonly session: UpkeptSession,
    now: number,
  ) {
    if (settings.keepalive !== undefined) this.keepalive = new Keepalive(settings.keepalive, now, session.conn.framesReceived);
    // Jitter, so connections opened together (a fleet of clients after a deploy) do not all move at once.
    if (settings.maxAgeMs !== undefined) this.ageDue = now + settings.maxAgeMs * (0.9 + 0.2 * Math.random());
    if (settings.idleTimeoutMs !== undefined) this.idleDue = now + settings.idleTimeoutMs;
    this.activityAtLook = session.activity;
    this.rearm();
  }

  stop(): void {
    this.clock.stop();
  }

  private onDue(now: number): void {
    const session = this.session;
    const conn = session.conn;
    if (conn.state !== 'open') return;
    const keepalive = this.keepalive;
    if (keepalive !== undefined && now >= keepalive.due) {
      switch (keepalive.check(now, conn.framesReceived, conn.readingPaused)) {
        case 'ping':
          session.ping();
          break;
        case 'unresponsive':
          conn.destroy(new PeerUnresponsiveError(keepalive.silentMs));
          return;
        case 'wait':
          break;
      }
    }
    if (now >= this.ageDue) {
      this.ageDue = Infinity;
      if (!session.draining) {
        session.goAway();
        const grace = this.settings.maxAgeGraceMs;
        if (grace !== undefined) this.graceDue = now + grace;
      }
    }
    if (now >= this.graceDue) {
      this.graceDue = Infinity;
      session.abandonAll();
      void conn.close();
      return;
    }
    const idleTimeoutMs = this.settings.idleTimeoutMs;
    if (idleTimeoutMs !== undefined && now >= this.idleDue) {
      const idle = session.inFlight === 0 && session.activity === this.activityAtLook;
      this.activityAtLook = session.activity;
      if (idle && session.draining) {
        void conn.close();
        return;
      }
      if (idle) session.goAway();
      this.idleDue = now + idleTimeoutMs;
    }
    this.rearm();
  }

  private rearm(): void {
    this.clock.wakeBy(Math.min(this.keepalive?.due ?? Infinity, this.ageDue, this.graceDue, this.idleDue));
  }
}
