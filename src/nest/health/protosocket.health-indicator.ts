import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { codeOf } from '../../core/diagnostics.js';
import { messageOf } from '../../core/errors.js';
import { RpcClient, type RpcClientOptions, type RpcClientStatus } from '../../rpc/client/client.js';
import { RpcServer } from '../../rpc/server/server.js';
import { ProtosocketClient } from '../client/protosocket.client.js';
import { ProtosocketServer } from '../server/protosocket.server.js';
import { HealthCheckTimeoutError } from './health-check-timeout.error.js';

export interface ProtosocketPingCheckOptions {
  /** How long the round trip may take before the check is down. Default 1000 ms. */
  timeoutMs?: number;
  /**
   * Call this pattern (with `data`) instead of sending a Ping, so the check goes through a
   * handler and whatever it depends on. Its round trip is the call's.
   */
  pattern?: string;
  /** The call's argument when `pattern` is set. Default `{}`. */
  data?: unknown;
}

/** What `pingCheck` reports under its key, besides `status`. */
// Type aliases, not interfaces: terminus wants data assignable to Record<string, unknown>.
export type ProtosocketPingDetails = {
  /** The client's connection state after the check. */
  state: RpcClientStatus;
  /** Round-trip time of the Ping (or the call), in ms; absent when down. */
  rttMs?: number;
  /** Why it is down: the error's message and stable code (ERR_HEALTH_TIMEOUT, ECONNREFUSED, ERR_REMOTE...). */
  message?: string;
  code?: string;
};

/** Server state as `readyCheck` reports it: up only while `listening`. */
export type ProtosocketServerReadiness = 'listening' | 'draining' | 'not_listening';

export type ProtosocketReadyDetails = {
  state: ProtosocketServerReadiness;
};

/** A client to check (Nest's or the RPC one), or the options to connect a short-lived one. */
export type ProtosocketPingTarget = ProtosocketClient | RpcClient | RpcClientOptions;

/**
 * Health indicators for @nestjs/terminus. Provide it next to `TerminusModule`:
 *
 *   @Module({ imports: [TerminusModule], providers: [ProtosocketHealthIndicator], controllers: [HealthController] })
 *
 * - `pingCheck` (liveness of a dependency): a real protocol round trip, a Ping answered by the
 *   server's protocol layer or, with `pattern`, a call through a handler.
 * - `readyCheck` (readiness of this server): down as soon as the server drains (its `close()`
 *   sent GoAway), so a Kubernetes readiness probe takes the pod out of the Service before its
 *   connections close.
 */
@Injectable()
export class ProtosocketHealthIndicator {
  constructor(private readonly health: HealthIndicatorService) {}

  async pingCheck<const Key extends string>(
    key: Key,
    target: ProtosocketPingTarget,
    options: ProtosocketPingCheckOptions = {},
  ): Promise<HealthIndicatorResult<Key, 'up' | 'down', ProtosocketPingDetails>> {
    const indicator = this.health.check(key);
    const owned = !(target instanceof RpcClient || target instanceof ProtosocketClient);
    const client = target instanceof RpcClient ? target : target instanceof ProtosocketClient ? target.unwrap<RpcClient>() : new RpcClient({ ...target, reconnect: false });
    try {
      const rttMs = await withTimeout(roundTrip(client, options), options.timeoutMs ?? 1000);
      return indicator.up({ state: client.status, rttMs });
    } catch (err) {
      const details: ProtosocketPingDetails = { state: client.status, message: messageOf(err) };
      const code = codeOf(err);
      if (code !== undefined) details.code = code;
      return indicator.down(details);
    } finally {
      if (owned) client.destroy();
    }
  }

  readyCheck<const Key extends string>(key: Key, server: ProtosocketServer | RpcServer): HealthIndicatorResult<Key, 'up' | 'down', ProtosocketReadyDetails> {
    const indicator = this.health.check(key);
    const state = readinessOf(server);
    return state === 'listening' ? indicator.up({ state }) : indicator.down({ state });
  }
}

function readinessOf(server: ProtosocketServer | RpcServer): ProtosocketServerReadiness {
  if (server.draining) return 'draining';
  const listening = server instanceof RpcServer ? server.listening : server.port !== undefined;
  return listening ? 'listening' : 'not_listening';
}

async function roundTrip(client: RpcClient, options: ProtosocketPingCheckOptions): Promise<number> {
  if (options.pattern === undefined) return client.ping();
  const started = performance.now();
  await client.call(options.pattern, options.data ?? {}, options.timeoutMs === undefined ? undefined : { timeoutMs: options.timeoutMs });
  return performance.now() - started;
}

function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HealthCheckTimeoutError(timeoutMs)), timeoutMs);
  });
  return Promise.race([work, timedOut]).finally(() => clearTimeout(timer));
}
