import { DeadlineExceededError } from '../errors.js';
import { CallResult } from './call-result.js';
import type { ClientSession } from './session.js';
import type { Subchannel, SubchannelState } from './subchannel.js';

/** One endpoint connection's state, as `RpcClient.pingEach` reports it (subchannel.ts draws the transitions). */
export type RpcEndpointState = SubchannelState;

/** One endpoint connection's answer to `RpcClient.pingEach`. */
export interface RpcEndpointPing {
  /** `host:port` (`[::1]:4000` for IPv6) or the socket path. With `connectionsPerEndpoint` > 1, one entry per connection. */
  endpoint: string;
  /** Its state when its round trip ended (or the time ran out). */
  state: RpcEndpointState;
  /** The round trip's time in ms; present exactly when it answered. */
  rttMs?: number;
  /**
   * Why it did not answer: the connection's last error when it is not ready (ECONNREFUSED...),
   * the round trip's failure (ERR_CONNECTION_CLOSED, ERR_REMOTE...), or ERR_DEADLINE_EXCEEDED
   * when `timeoutMs` ran out first.
   */
  error?: Error;
}

export interface RpcPingEachOptions {
  /** The time the whole probe may take; an endpoint not answered by then is reported with ERR_DEADLINE_EXCEEDED. Default 1000 ms. */
  timeoutMs?: number;
  /**
   * Call this pattern (with `data`) on each endpoint instead of sending a Ping, so the round
   * trip goes through a handler. Required under the protosocket-rpc profile, which has no Ping.
   */
  pattern?: string;
  /** The call's argument when `pattern` is set. Default `{}`. */
  data?: unknown;
}

/** What a probe needs of the channel (channel.ts). */
export interface ProbedChannel {
  /** Reopens after close() and starts an attempt on every subchannel neither ready nor connecting. */
  connectAll(): void;
  /** The subchannels of the endpoints the source names now, in its order. */
  readonly endpoints: readonly Subchannel[];
  /** No endpoint is known yet and the source is being asked. */
  readonly awaitingEndpoints: boolean;
  /** Calls `listener` after each change of a current subchannel's state or of the endpoints; returns the unsubscribe. */
  watch(listener: () => void): () => void;
}

/** One round trip on one connection: resolves with its time in ms. */
export type RoundTrip = (session: ClientSession) => Promise<number>;

export const pingRoundTrip: RoundTrip = (session) => session.ping();

/** A call of `pattern` as the round trip, with the probe's time as its deadline (the server hears of it, and Cancel follows). */
export function callRoundTrip(pattern: string, data: unknown, timeoutMs: number): RoundTrip {
  return async (session) => {
    const started = performance.now();
    const result = new CallResult<unknown>();
    session.start(pattern, data, result, { timeoutMs });
    await result.promise;
    return performance.now() - started;
  };
}

/**
 * One round trip on every connection of the endpoints the channel knows, within `timeoutMs`:
 *
 *   connectAll() ──> each subchannel, once it is not connecting:
 *                      ready      -> round trip on its session -> { rttMs } or { error }
 *                      any other  -> { state, error: its last error }
 *                    ──> all answered, or the timer: every current subchannel, in order
 *                        (one still connecting or mid round trip: ERR_DEADLINE_EXCEEDED)
 *
 * Never rejects. The subchannels are read anew at every change, so an endpoint the resolver
 * drops mid-probe is not reported and one it adds is probed. A round trip that answers after
 * the timer is ignored (a Ping left in flight settles with its connection).
 */
export function probeEach(channel: ProbedChannel, roundTrip: RoundTrip, timeoutMs: number): Promise<RpcEndpointPing[]> {
  channel.connectAll();
  return new Promise((resolve) => {
    const answers = new Map<Subchannel, RpcEndpointPing>();
    const started = new Set<Subchannel>();
    let done = false;

    const finish = (): void => {
      done = true;
      clearTimeout(timer);
      unwatch();
      const expired = new DeadlineExceededError(timeoutMs);
      resolve(channel.endpoints.map((subchannel) => answers.get(subchannel) ?? report(subchannel, { error: expired })));
    };
    const answer = (subchannel: Subchannel, outcome: Pick<RpcEndpointPing, 'rttMs' | 'error'>): void => {
      if (done) return;
      answers.set(subchannel, report(subchannel, outcome));
      check();
    };
    const check = (): void => {
      if (done || channel.awaitingEndpoints) return;
      for (const subchannel of channel.endpoints) {
        if (answers.has(subchannel) || started.has(subchannel) || subchannel.state === 'connecting') continue;
        const session = subchannel.state === 'ready' ? subchannel.session : undefined;
        if (session === undefined) {
          answers.set(subchannel, report(subchannel, subchannel.lastError === undefined ? {} : { error: subchannel.lastError }));
          continue;
        }
        started.add(subchannel);
        roundTrip(session).then(
          (rttMs) => answer(subchannel, { rttMs }),
          (err: unknown) => answer(subchannel, { error: err as Error }),
        );
      }
      if (channel.endpoints.every((subchannel) => answers.has(subchannel))) finish();
    };

    const timer = setTimeout(finish, timeoutMs);
    const unwatch = channel.watch(check);
    check();
  });
}

function report(subchannel: Subchannel, outcome: Pick<RpcEndpointPing, 'rttMs' | 'error'>): RpcEndpointPing {
  return { endpoint: subchannel.endpointKey, state: subchannel.state, ...outcome };
}
