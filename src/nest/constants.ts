/** `transportId` of ProtosocketServer: `@MessagePattern(p, PROTOSOCKET_TRANSPORT)` binds to it only. */
export const PROTOSOCKET_TRANSPORT: unique symbol = Symbol('PROTOSOCKET_TRANSPORT');

/** DI token of the Codec<RpcFrame, RpcFrame> that module-built clients and servers use. JSON by default. */
export const PROTOSOCKET_CODEC: unique symbol = Symbol('PROTOSOCKET_CODEC');

/** DI token of the options a container-built ProtosocketServer is created with. */
export const PROTOSOCKET_SERVER_OPTIONS: unique symbol = Symbol('PROTOSOCKET_SERVER_OPTIONS');

/** Nest's reply for a pattern without handler (the same text as Nest's own transports). */
export const NO_MESSAGE_HANDLER = 'There is no matching message handler defined in the remote service.';
