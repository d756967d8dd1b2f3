/**
 * Attribute names: those of the OpenTelemetry semantic conventions for RPC where one exists,
 * `rpc.protosocket.*` (the convention's place for a system's own) for the rest.
 */
export const RPC_SYSTEM = 'rpc.system';
export const RPC_METHOD = 'rpc.method';
export const SERVER_ADDRESS = 'server.address';
export const SERVER_PORT = 'server.port';
export const CLIENT_ADDRESS = 'client.address';
export const CLIENT_PORT = 'client.port';
export const NETWORK_TRANSPORT = 'network.transport';
export const ERROR_TYPE = 'error.type';
/** How the call ended: ok, error, cancelled, deadline_exceeded. */
export const PROTOSOCKET_OUTCOME = 'rpc.protosocket.outcome';
/** Values received (client) or sent (server): 1 for a unary reply, the item count for a stream. */
export const PROTOSOCKET_ITEMS = 'rpc.protosocket.items';
/** The call's id on its connection. */
export const PROTOSOCKET_CALL_ID = 'rpc.protosocket.call_id';
/** client or server: which end of the connection this process is. */
export const PROTOSOCKET_SIDE = 'rpc.protosocket.side';
/** in or out. */
export const PROTOSOCKET_DIRECTION = 'rpc.protosocket.direction';

/** The value of `rpc.system`. */
export const SYSTEM_NAME = 'protosocket';
