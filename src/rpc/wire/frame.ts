import type { ProtocolError } from '../../core/errors.js';
import type { ControlCode } from './control-code.js';

/** String metadata that travels with a request or event (Nest's `PacketMetadata`). */
export type Metadata = Record<string, string>;

/**
 * One RPC message on the wire, whatever the codec. Which fields a frame carries depends on
 * its code (docs/PROTOCOL.md); absent fields are `undefined`.
 */
export interface RpcFrame {
  /** Call id, chosen by the client, unique among its calls in flight on one connection. 0 for events; GoAway: the highest call id the server accepted. */
  id: number;
  code: ControlCode;
  /** Requests and events: the route. */
  pattern?: string | undefined;
  /** The payload: request argument, reply value, stream item, or error body. */
  data?: unknown;
  /** Requests: the remaining time budget in milliseconds when the frame was sent. Cancel: the budget that ran out, when the cancel is a deadline. */
  timeoutMs?: number | undefined;
  /** Requests and events: string metadata. */
  meta?: Metadata | undefined;
  /**
   * Set by a decoder when the frame is intact (its id and code are readable) but its content
   * is not valid (metadata, payload): the frame fails its one call, the connection goes on.
   * The other fields may then be missing.
   */
  invalid?: ProtocolError | undefined;
}

/** Ids are u32 on the wire; 0 is reserved for frames that belong to no call. */
export const MAX_CALL_ID = 0xffff_ffff;
