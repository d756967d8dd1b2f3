import type { Codec } from '../../core/codec.js';
import { EncodeError, ProtocolError } from '../../core/errors.js';
import { UnsupportedByProfileError } from '../errors.js';
import { ControlCode } from './control-code.js';
import { MAX_CALL_ID, type RpcFrame } from './frame.js';

/**
 * Which conversation rules a connection follows (docs/PROTOCOL.md §12):
 *
 * - `native`: this project's protocol, all ten control codes (the default);
 * - `protosocket-rpc`: what a stock protosocket-rpc 2.x peer (Rust, protosocket-prost or
 *   protosocket-messagepack with the envelope of PROTOCOL.md §12.3) understands: codes 0, 1, 2
 *   only, u64 ids, unary or streaming decided by the caller.
 */
export type WireProtocol = 'native' | 'protosocket-rpc';

/**
 * How one internal frame goes on the wire under the protosocket-rpc profile. The sessions
 * speak the internal vocabulary (RpcFrame, codes 0-9); a profile codec writes each frame as
 * its row says. A code with no row is never sent to a protosocket-rpc peer: the sessions ask
 * `sends()` before they would send it, and the codec refuses it (ERR_ENCODE) as a last line.
 */
export interface ProfileWireForm {
  /** The control code written: protosocket-rpc knows only Normal, Cancel and End. */
  readonly wireCode: 0 | 1 | 2;
  /** The frame's data goes in the envelope's `error` field instead of its payload. */
  readonly asError?: true;
  /** An End frame for the same id follows (see the Error row). */
  readonly thenEnd?: true;
}

/**
 * The protosocket-rpc profile, in one table: what each internal frame becomes on the wire.
 * Only what is listed is allowed; a frame added to the protocol later (a new control code, a
 * flow-control frame) is not sent to a protosocket-rpc peer until it gets a row here.
 *
 *   internal     sent by  on the wire                 why
 *   Normal       both     Normal (0)                  a request, or one item of a stream
 *   Cancel       both     Cancel (1)                  protosocket-rpc's cancel, both ways
 *   End          server   End (2)                     protosocket-rpc's end of a stream
 *   Reply        server   Normal (0)                  protosocket-rpc's unary answer is one Normal
 *   Error        server   Normal (0) + error, End     the error travels in the envelope; the End
 *                                                     finishes a streaming caller (a unary caller
 *                                                     completed on the Normal and drops the End)
 *   Event, Ping, Pong, GoAway, Credit: no row, never sent (a protosocket-rpc stream has no credit:
 *   the server sends it as fast as the connection takes it).
 */
const PROTOSOCKET_RPC_FORMS: Readonly<Partial<Record<ControlCode, ProfileWireForm>>> = {
  [ControlCode.Normal]: { wireCode: 0 },
  [ControlCode.Cancel]: { wireCode: 1 },
  [ControlCode.End]: { wireCode: 2 },
  [ControlCode.Reply]: { wireCode: 0 },
  [ControlCode.Error]: { wireCode: 0, asError: true, thenEnd: true },
};

/** The rules a session follows for its connection's protocol. */
export interface WireProfile {
  readonly protocol: WireProtocol;
  /** The largest call id a client allocates and a decoder accepts. */
  readonly maxCallId: number;
  /** Whether this side may send a frame with this code to the peer at all. */
  sends(code: ControlCode): boolean;
  /**
   * Server: a pushed stream (Observable) of exactly one item is answered as one Reply. Native
   * only: under protosocket-rpc an Observable is always a stream (Normal* End).
   */
  readonly foldsSingleItemStreams: boolean;
  /**
   * Client: a call is unary or streaming by the caller's choice, as in protosocket-rpc; a unary
   * call settles on the first Normal. Native: the server's frames decide (Reply or End).
   */
  readonly callerChoosesUnary: boolean;
  /** Server: a request whose pattern has an event handler but no request handler runs it and is answered with an empty reply. */
  readonly eventsAsCalls: boolean;
  /** Checks a decoded frame against the profile's envelope rules; throws ProtocolError. */
  checkInbound(frame: RpcFrame, from: 'client' | 'server'): void;
}

export const NATIVE_PROFILE: WireProfile = {
  protocol: 'native',
  maxCallId: MAX_CALL_ID,
  sends: () => true,
  foldsSingleItemStreams: true,
  callerChoosesUnary: false,
  eventsAsCalls: false,
  checkInbound: () => {},
};

/** protosocket-rpc ids are u64; this side keeps them as exact numbers, so up to 2^53-1. */
export const PROFILE_MAX_CALL_ID = Number.MAX_SAFE_INTEGER;

export const PROTOSOCKET_RPC_PROFILE: WireProfile = {
  protocol: 'protosocket-rpc',
  maxCallId: PROFILE_MAX_CALL_ID,
  sends: (code) => PROTOSOCKET_RPC_FORMS[code] !== undefined,
  foldsSingleItemStreams: false,
  callerChoosesUnary: true,
  eventsAsCalls: true,
  checkInbound: checkProfileEnvelope,
};

export function profileOf(protocol: WireProtocol | undefined): WireProfile {
  if (protocol === undefined || protocol === 'native') return NATIVE_PROFILE;
  if (protocol === 'protosocket-rpc') return PROTOSOCKET_RPC_PROFILE;
  throw new UnsupportedByProfileError(`unknown protocol ${JSON.stringify(protocol)}: use 'native' or 'protosocket-rpc'`);
}

/**
 * The wire form of an outbound frame under the protosocket-rpc profile. Refuses (ERR_ENCODE,
 * before a byte is written) a code with no row and an id outside 0..2^53-1.
 */
export function checkProfileOutbound(frame: RpcFrame): ProfileWireForm {
  const form = PROTOSOCKET_RPC_FORMS[frame.code];
  if (form === undefined) throw EncodeError.withReason(`control code ${frame.code} has no form in the protosocket-rpc profile`);
  if (!isProfileCallId(frame.id)) throw EncodeError.withReason(`call id must be an integer in 0..2^53-1, got ${frame.id}`);
  return form;
}

/** The internal code of a decoded protosocket-rpc frame: a Normal with an error is an Error; codes above 2 are refused. */
export function profileInboundCode(wireCode: unknown, hasError: boolean): ControlCode {
  switch (wireCode) {
    case 0:
      return hasError ? ControlCode.Error : ControlCode.Normal;
    case 1:
    case 2:
      if (hasError) throw new ProtocolError(`a ${wireCode === 1 ? 'Cancel' : 'End'} frame carries no error`);
      return wireCode;
    default:
      throw new ProtocolError(`control code ${String(wireCode)} is not protosocket-rpc's (0 Normal, 1 Cancel, 2 End)`);
  }
}

/** A call id under the profile: an integer in 0..2^53-1 (ids above are refused, not rounded). */
export function isProfileCallId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

// C0 control characters: an embedded protobuf message always starts with one (its first tag,
// 0x08-0x1f for fields 1-3), so a message in field 3 never passes for a pattern.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f]/;

/**
 * "Not our envelope" at the level of fields, whatever the codec (the codecs check wire types
 * and encodings first, PROTOCOL.md §12.4):
 *  - a request (Normal from a client) carries a pattern, without control characters;
 *  - nothing else carries a pattern, and nothing from a server carries a timeout or metadata.
 */
function checkProfileEnvelope(frame: RpcFrame, from: 'client' | 'server'): void {
  if (from === 'client' && frame.code === ControlCode.Normal) {
    if (frame.pattern === undefined) throw new ProtocolError('a protosocket-rpc request without a pattern is not a nestjs-protosocket envelope');
    if (CONTROL_CHARACTERS.test(frame.pattern)) throw new ProtocolError('a pattern with control characters is not a nestjs-protosocket envelope');
    return;
  }
  if (frame.pattern !== undefined) throw new ProtocolError(`a ${from}'s frame with code ${frame.code} carries no pattern`);
  if (from === 'server' && (frame.timeoutMs !== undefined || frame.meta !== undefined)) {
    throw new ProtocolError('a server frame carries no timeout or metadata');
  }
}

/** A codec's forms for the protocols, by codec object (kept out of the codec's public type). */
const protocolForms = new WeakMap<Codec<RpcFrame, RpcFrame>, (protocol: WireProtocol) => Codec<RpcFrame, RpcFrame> | undefined>();

/**
 * Records where `codec`'s form for each protocol is. The codecs of this package (JSON excepted)
 * register a protosocket-rpc form; `codecFor` picks it.
 */
export function withProtocolForms<C extends Codec<RpcFrame, RpcFrame>>(codec: C, forms: (protocol: WireProtocol) => Codec<RpcFrame, RpcFrame> | undefined): C {
  protocolForms.set(codec, forms);
  return codec;
}

/** The codec a connection of `profile` uses: `codec` itself natively, else its form for the profile. */
export function codecFor(codec: Codec<RpcFrame, RpcFrame>, profile: WireProfile): Codec<RpcFrame, RpcFrame> {
  if (profile.protocol === 'native') return codec;
  const form = protocolForms.get(codec)?.(profile.protocol);
  if (form === undefined) {
    throw new UnsupportedByProfileError(
      `this codec has no ${profile.protocol} form: use msgpackCodec or protobufCodec (or one built by createMsgpackCodec / createProtobufCodec)`,
    );
  }
  return form;
}
