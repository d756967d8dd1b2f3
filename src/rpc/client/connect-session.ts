import { connect, type DialOptions } from '../../core/connect.js';
import type { ConnectionOptions } from '../../core/connection.js';
import type { Endpoint } from '../../core/endpoint.js';
import type { ObserverError } from '../errors.js';
import type { KeepaliveSettings } from '../keepalive.js';
import type { RpcFrame } from '../wire/frame.js';
import { NATIVE_PROFILE, type WireProfile } from '../wire/profile.js';
import { ClientSession, type SessionEvents } from './session.js';

/** Where and how to reach one server: everything `connect` takes except the reactor, which is the session. */
export type DialTarget = Endpoint & DialOptions & Omit<ConnectionOptions<RpcFrame, RpcFrame>, 'reactor'>;

/**
 * Dials `endpoint` once and resolves with the session of the new connection. The session is
 * built in the connection's reactor factory, so it exists exactly when its connection does.
 * (One endpoint, one attempt: a subchannel runs one of these at a time.)
 */
export async function connectSession(
  endpoint: DialTarget,
  defaultTimeoutMs: number,
  /** Where the session reports GoAway and the calls that never reached a handler. */
  events: SessionEvents,
  profile: WireProfile = NATIVE_PROFILE,
  /** The session's heartbeat; undefined: none. */
  keepalive?: KeepaliveSettings,
  /** Where a throw from an observer whose call had settled is reported. */
  reportObserverError?: (err: ObserverError) => void,
): Promise<ClientSession> {
  let session: ClientSession | undefined;
  await connect<RpcFrame, RpcFrame>({
    ...endpoint,
    reactor: (connection) => (session = new ClientSession(connection, defaultTimeoutMs, events, profile, keepalive, reportObserverError)),
  });
  // Assigned: the Connection constructor calls the reactor factory before `connect` resolves.
  return session as ClientSession;
}
