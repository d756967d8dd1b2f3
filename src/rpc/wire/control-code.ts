/**
 * The control code of an RPC frame. 0-2 are protosocket-rpc's; 3 and up are this protocol's
 * extensions (see docs/PROTOCOL.md). Direction: C = client to server, S = server to client.
 */
export const ControlCode = {
  /** C: a request that expects a reply. S: one item of a streamed reply (more follow). */
  Normal: 0,
  /** C: cancel the call with this id (with `timeoutMs`: its deadline passed). S: the server abandoned the call (the client fails it as cancelled). */
  Cancel: 1,
  /** S: the streamed reply with this id is complete; the frame carries no value. */
  End: 2,
  /** S: the call's final value; ends the call (a unary reply is this one frame). */
  Reply: 3,
  /** S: the call failed; the frame's data is the error body; ends the call. */
  Error: 4,
  /** C: an event: no id (0), no reply. */
  Event: 5,
  /** Either way: asks for a Pong with the same id. */
  Ping: 6,
  /** Either way: answers a Ping. */
  Pong: 7,
  /** S: the server is draining; send no new calls on this connection. Calls in flight still complete. */
  GoAway: 8,
} as const;

export type ControlCode = (typeof ControlCode)[keyof typeof ControlCode];

/** One past the highest code; a decoder refuses anything at or above it. */
export const CONTROL_CODE_LIMIT = 9;
