/**
 * The control code of an RPC frame. 0-2 are protosocket-rpc's; 3 and up are this protocol's
 * extensions (docs/PROTOCOL.md §5). Who sends each and which end a call: `CONTROL_CODES` below.
 */
export const ControlCode = {
  /** From a client: a request that expects a reply. From a server: one item of a streamed reply (more follow). */
  Normal: 0,
  /** From a client: cancel the call (with `timeoutMs`: its deadline passed). From a server: it abandoned the call. */
  Cancel: 1,
  /** The streamed reply is complete; the frame carries no value. */
  End: 2,
  /** The call's final value (a unary reply is this one frame). */
  Reply: 3,
  /** The call failed; the frame's data is the error body. */
  Error: 4,
  /** An event: no id (0), no reply. */
  Event: 5,
  /** Asks for a Pong with the same id. Answered until the connection closes, after GoAway too (heartbeats rely on it). */
  Ping: 6,
  /** Answers a Ping. */
  Pong: 7,
  /**
   * The server is draining: send no new calls on this connection. `id` is the highest call
   * id the server accepted on it (0 if none); later requests are refused with an Error whose
   * body code is ERR_REFUSED (they never reached a handler). Calls accepted still complete.
   */
  GoAway: 8,
  /** From a client: the streamed reply may carry `data` (a whole number, 1..2^32-1) more Normal items (per-call flow control, wire/flow-control.ts). */
  Credit: 9,
} as const;

export type ControlCode = (typeof ControlCode)[keyof typeof ControlCode];

interface ControlCodeRule {
  /** The peer that sends it (PROTOCOL.md §5). */
  readonly sentBy: 'client' | 'server' | 'both';
  /**
   * What a receiver does with it from the other peer: close the connection (a protocol error,
   * §10), or ignore the frame. Only End from a client is ignored.
   */
  readonly fromWrongPeer: 'refuse' | 'ignore';
  /** Settles the call its id names, on both sides: nothing more is sent for that call. */
  readonly endsCall: boolean;
}

/**
 * The meaning of every code, in one table (keyed by value, so a code added to `ControlCode`
 * without a row does not compile). Sessions and codecs ask the helpers below, never the numbers.
 *
 *   code  name    sent by  ends the call
 *   0     Normal  both     no   (C: starts one; S: a stream item)
 *   1     Cancel  both     yes
 *   2     End     server   yes  (from a client: ignored)
 *   3     Reply   server   yes
 *   4     Error   server   yes
 *   5     Event   client   no   (belongs to no call)
 *   6     Ping    both     no
 *   7     Pong    both     no
 *   8     GoAway  server   no   (belongs to no call)
 *   9     Credit  client   no   (flow control of a streamed call: wire/flow-control.ts)
 */
const CONTROL_CODES: Readonly<Record<ControlCode, ControlCodeRule>> = {
  [ControlCode.Normal]: { sentBy: 'both', fromWrongPeer: 'refuse', endsCall: false },
  [ControlCode.Cancel]: { sentBy: 'both', fromWrongPeer: 'refuse', endsCall: true },
  [ControlCode.End]: { sentBy: 'server', fromWrongPeer: 'ignore', endsCall: true },
  [ControlCode.Reply]: { sentBy: 'server', fromWrongPeer: 'refuse', endsCall: true },
  [ControlCode.Error]: { sentBy: 'server', fromWrongPeer: 'refuse', endsCall: true },
  [ControlCode.Event]: { sentBy: 'client', fromWrongPeer: 'refuse', endsCall: false },
  [ControlCode.Ping]: { sentBy: 'both', fromWrongPeer: 'refuse', endsCall: false },
  [ControlCode.Pong]: { sentBy: 'both', fromWrongPeer: 'refuse', endsCall: false },
  [ControlCode.GoAway]: { sentBy: 'server', fromWrongPeer: 'refuse', endsCall: false },
  [ControlCode.Credit]: { sentBy: 'client', fromWrongPeer: 'refuse', endsCall: false },
};

/** The rows by value: an array lookup on the decode path. A hole (or a non-integer index) is no code. */
const RULES: (ControlCodeRule | undefined)[] = [];
for (const [code, rule] of Object.entries(CONTROL_CODES)) RULES[Number(code)] = rule;

/** Whether a decoded number is a code of this protocol; every codec refuses a frame with another. */
export function isControlCode(value: unknown): value is ControlCode {
  return typeof value === 'number' && RULES[value] !== undefined;
}

export function sentByClient(code: ControlCode): boolean {
  return CONTROL_CODES[code].sentBy !== 'server';
}

export function sentByServer(code: ControlCode): boolean {
  return CONTROL_CODES[code].sentBy !== 'client';
}

/** A server receiving this from a client closes the connection (the rest it handles or ignores). */
export function refusedFromClient(code: ControlCode): boolean {
  return !sentByClient(code) && CONTROL_CODES[code].fromWrongPeer === 'refuse';
}

/** A client receiving this from a server closes the connection. */
export function refusedFromServer(code: ControlCode): boolean {
  return !sentByServer(code) && CONTROL_CODES[code].fromWrongPeer === 'refuse';
}

/** Whether the frame settles the call its id names (a terminal frame, PROTOCOL.md §6). */
export function endsCall(code: ControlCode): boolean {
  return CONTROL_CODES[code].endsCall;
}
