import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { codeOf } from '../../core/diagnostics.js';
import { messageOf } from '../../core/errors.js';
import { RpcClient, type RpcClientOptions, type RpcClientStatus, type RpcEndpointPing, type RpcEndpointState } from '../../rpc/client/client.js';
import { DeadlineExceededError } from '../../rpc/errors.js';
import { RpcServer } from '../../rpc/server/server.js';
import { ProtosocketClient } from '../client/protosocket.client.js';
import { ProtosocketServer } from '../server/protosocket.server.js';
import { HealthCheckTimeoutError } from './health-check-timeout.error.js';

export interface ProtosocketPingCheckOptions {
  /** How long the whole check (connecting included, every endpoint at once) may take. Default 1000 ms. */
  timeoutMs?: number;
  /**
   * Call this pattern (with `data`) on each endpoint instead of sending a Ping, so the check
   * goes through a handler and whatever it depends on. Its round trip is the call's.
   * Required under the protosocket-rpc profile, which has no Ping: without it the check is
   * down with ERR_UNSUPPORTED_BY_PROFILE.
   */
  pattern?: string;
  /** The call's argument when `pattern` is set. Default `{}`. */
  data?: unknown;
  /**
   * Up only if every endpoint answers (and there is one). Default false: up if at least one
   * answers, as the client itself is (its calls go to the endpoints that are ready).
   */
  requireAll?: boolean;
}

// Type aliases, not interfaces: terminus wants data assignable to Record<string, unknown>.

/** One endpoint connection in `pingCheck`'s result. */
export type ProtosocketEndpointHealth = {
  /** `host:port` or the socket path (one entry per connection with `connectionsPerEndpoint` > 1). */
  endpoint: string;
  /** The connection's state after the check: idle, connecting, ready, transient_failure or shutdown. */
  state: RpcEndpointState;
  /** Round-trip time in ms; present exactly when this endpoint answered. */
  rttMs?: number;
  /** Why it did not answer, and the error's stable code (ERR_HEALTH_TIMEOUT, ECONNREFUSED, ERR_CONNECTION_CLOSED, ERR_REMOTE...). */
  error?: string;
  code?: string;
};

/** What `pingCheck` reports under its key, besides `status`. */
export type ProtosocketPingDetails = {
  /** The client's connection state after the check. */
  state: RpcClientStatus;
  /** The slowest round trip among the endpoints that answered, in ms; absent when none did. */
  rttMs?: number;
  /** Why it is down: the first failing endpoint's error (or why nothing was checked), and its stable code. */
  message?: string;
  code?: string;
  /** Every endpoint connection the client knows, in its order. */
  endpoints: ProtosocketEndpointHealth[];
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
 * - `pingCheck` (liveness of a dependency): a real protocol round trip on every endpoint the
 *   client has, a Ping answered by the server's protocol layer or, with `pattern`, a call
 *   through a handler (the only way under the protosocket-rpc profile, which has no Ping).
 *   Up if one endpoint answers (every one, with `requireAll`); each endpoint is listed with
 *   its state and round-trip time or error.
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
    const timeoutMs = options.timeoutMs ?? 1000;
    try {
      const pings = await client.pingEach({ timeoutMs, pattern: options.pattern, data: options.data });
      const endpoints = pings.map((ping) => endpointHealth(ping, timeoutMs));
      const answered = endpoints.filter((endpoint) => endpoint.rttMs !== undefined).length;
      const up = options.requireAll === true ? answered === endpoints.length && answered > 0 : answered > 0;
      const details: ProtosocketPingDetails = { state: client.status, endpoints };
      const slowest = slowestRtt(endpoints);
      if (slowest !== undefined) details.rttMs = slowest;
      if (up) return indicator.up(details);
      const failed = endpoints.find((endpoint) => endpoint.rttMs === undefined);
      details.message = failed === undefined ? 'no endpoint to check' : `${failed.endpoint}: ${failed.error ?? failed.state}`;
      if (failed?.code !== undefined) details.code = failed.code;
      return indicator.down(details);
    } catch (err) {
      // pingEach rejects only before it checks anything: a Ping under protosocket-rpc, a bad timeoutMs.
      const details: ProtosocketPingDetails = { state: client.status, message: messageOf(err), endpoints: [] };
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

/** An endpoint's answer as JSON can carry it; the probe's deadline is this check's timeout (ERR_HEALTH_TIMEOUT). */
function endpointHealth(ping: RpcEndpointPing, timeoutMs: number): ProtosocketEndpointHealth {
  const health: ProtosocketEndpointHealth = { endpoint: ping.endpoint, state: ping.state };
  if (ping.rttMs !== undefined) health.rttMs = ping.rttMs;
  if (ping.error !== undefined) {
    const error = ping.error instanceof DeadlineExceededError ? new HealthCheckTimeoutError(timeoutMs) : ping.error;
    health.error = messageOf(error);
    const code = codeOf(error);
    if (code !== undefined) health.code = code;
  }
  return health;
}

function slowestRtt(endpoints: readonly ProtosocketEndpointHealth[]): number | undefined {
  let slowest: number | undefined;
  for (const { rttMs } of endpoints) if (rttMs !== undefined && (slowest === undefined || rttMs > slowest)) slowest = rttMs;
  return slowest;
}
