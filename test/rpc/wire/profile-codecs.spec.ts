import { unpack } from 'msgpackr';
import { EncodeError, ProtocolError } from '../../../src/core/index.js';
import { ControlCode, type RpcFrame } from '../../../src/rpc/index.js';
import { UnsupportedByProfileError } from '../../../src/rpc/errors.js';
import { jsonCodec } from '../../../src/rpc/wire/json-codec.js';
import { createMsgpackCodec, msgpackCodec } from '../../../src/rpc/wire/msgpack-codec.js';
import { profileOf, codecFor } from '../../../src/rpc/wire/profile.js';
import { createProtobufCodec, protobufCodec } from '../../../src/rpc/wire/protobuf-codec.js';
import { bytewise } from '../../helpers/chunks.js';
import { decodeError, decodeOne, encode, feed } from '../../helpers/frames.js';
import { defined } from './support.js';

const profile = profileOf('protosocket-rpc');
const msgpack = codecFor(msgpackCodec, profile);
const protobuf = codecFor(protobufCodec, profile);

/**
 * Frames as the stock protosocket 2.0.2 encoders write them (test/interop/peer `vectors` mode:
 * protosocket-messagepack with the derived struct of PROTOCOL.md §12.3, which rmp-serde writes
 * as an array; protosocket-prost with the Envelope of docs/protosocket.proto).
 */
const RUST = {
  msgpack: {
    request: 'ce0000002c970100ad7b22636d64223a2273756d227dcd138881aa782d74726163652d6964a661626331323393010203c0',
    reply: 'ce00000008970100c0c08006c0',
    bytes: 'ce0000000d970600c0c080c404cafebabec0',
    error:
      'ce00000040970700c0c080c082a4636f6465ae4552525f4e4f5f48414e444c4552a76d657373616765bb6e6f2068616e646c657220666f72207061747465726e206e6f7065',
    end: 'ce00000008970502c0c080c0c0',
    cancel: 'ce00000008970501c0c080c0c0',
  },
  protobuf: {
    request: '3308011a0d7b22636d64223a2273756d227d2088272a140a0a782d74726163652d696412066162633132333a075b312c322c335d',
    reply: '0508013a0136',
    bytes: '0808063204cafebabe',
    error:
      '4508074a417b22636f6465223a224552525f4e4f5f48414e444c4552222c226d657373616765223a226e6f2068616e646c657220666f72207061747465726e206e6f7065227d',
    end: '0408051002',
    cancel: '0408051001',
  },
};

const decoded: Record<keyof typeof RUST.msgpack, RpcFrame> = {
  request: { id: 1, code: ControlCode.Normal, pattern: '{"cmd":"sum"}', timeoutMs: 5000, meta: { 'x-trace-id': 'abc123' }, data: [1, 2, 3] },
  reply: { id: 1, code: ControlCode.Normal, data: 6 },
  bytes: { id: 6, code: ControlCode.Normal, data: Buffer.from('cafebabe', 'hex') },
  error: { id: 7, code: ControlCode.Error, data: { code: 'ERR_NO_HANDLER', message: 'no handler for pattern nope' } },
  end: { id: 5, code: ControlCode.End },
  cancel: { id: 5, code: ControlCode.Cancel },
};

describe.each([
  ['msgpack', msgpack, RUST.msgpack],
  ['protobuf', protobuf, RUST.protobuf],
] as const)('protosocket-rpc profile, %s codec', (_name, codec, rust) => {
  it.each(Object.keys(decoded) as (keyof typeof decoded)[])('decodes the stock Rust encoder\'s "%s" frame', (name) => {
    expect(defined(decodeOne(codec.decoder, Buffer.from(rust[name], 'hex')))).toStrictEqual(defined(decoded[name]));
  });

  it('decodes frames fed one byte at a time', () => {
    const bytes = Buffer.concat(Object.values(rust).map((hex) => Buffer.from(hex, 'hex')));
    expect(feed(codec.decoder, bytewise(bytes)).map(defined)).toStrictEqual(Object.values(decoded).map(defined));
  });

  it('writes a Reply as a Normal, and an Error as a Normal carrying the error, then an End', () => {
    const frames = feed(codec.decoder, [encode(codec.encoder, { id: 3, code: ControlCode.Reply, data: 'v' }, { id: 4, code: ControlCode.Error, data: { code: 'E' } })]);
    expect(frames.map(defined)).toStrictEqual([
      { id: 3, code: ControlCode.Normal, data: 'v' },
      { id: 4, code: ControlCode.Error, data: { code: 'E' } },
      { id: 4, code: ControlCode.End },
    ]);
  });

  it('writes what the stock Rust encoder writes for a request (protobuf: byte for byte)', () => {
    const bytes = encode(codec.encoder, decoded.request);
    if (codec === protobuf) expect(bytes.toString('hex')).toBe(rust.request);
    expect(defined(decodeOne(codec.decoder, bytes))).toStrictEqual(defined(decoded.request));
  });

  it.each([ControlCode.Event, ControlCode.Ping, ControlCode.Pong, ControlCode.GoAway])('refuses to write control code %i, which has no form in the profile', (code) => {
    expect(() => encode(codec.encoder, { id: 0, code })).toThrow(EncodeError);
  });

  it('keeps ids up to 2^53-1 exact both ways, and refuses to write one above', () => {
    for (const id of [2 ** 32, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
      expect(decodeOne(codec.decoder, encode(codec.encoder, { id, code: ControlCode.Normal, pattern: 'p' })).id).toBe(id);
    }
    expect(() => encode(codec.encoder, { id: 2 ** 53, code: ControlCode.Normal })).toThrow(EncodeError);
  });
});

describe('protosocket-rpc profile, msgpack specifics', () => {
  /** The first frame's body, as a plain MessagePack reader sees it. */
  const body = (bytes: Buffer) => unpack(bytes.subarray(5, 5 + bytes.readUInt32BE(1))) as Record<string, unknown>;

  it('writes integers above 32 bits as MessagePack integers (0xd3), never float64 (0xcb)', () => {
    const data = { n: 2 ** 40, list: [-(2 ** 35), 7] };
    const bytes = encode(msgpack.encoder, { id: 2 ** 40, code: ControlCode.Reply, data });
    expect(bytes.includes(0xcb)).toBe(false);
    expect(bytes.subarray(5).toString('hex')).toContain('a169d3' + (2 ** 40).toString(16).padStart(16, '0'));
    expect(defined(decodeOne(msgpack.decoder, bytes))).toStrictEqual({ id: 2 ** 40, code: ControlCode.Normal, data });
    // The native codec keeps msgpackr's default (float64): unchanged for Node-to-Node users.
    expect(encode(msgpackCodec.encoder, { id: 1, code: ControlCode.Reply, data }).includes(0xcb)).toBe(true);
  });

  it('writes the map form with the error under "e"', () => {
    expect(body(encode(msgpack.encoder, { id: 9, code: ControlCode.Error, data: 'boom' }))).toEqual({ i: 9, c: 0, e: 'boom' });
  });

  it('decodes an array form shorter than the struct (trailing fields absent)', () => {
    // [1, 0, "echo"]: what a Rust struct with only id, code and pattern writes.
    expect(defined(decodeOne(msgpack.decoder, Buffer.from('ce00000008930100a46563686f', 'hex')))).toStrictEqual({ id: 1, code: 0, pattern: 'echo' });
  });

  it.each([
    ['an array of 8 elements', 'ce00000009980100c0c080c0c0c0'],
    ['code 3 (not protosocket-rpc\'s)', 'ce0000000782a16901a16303'],
    ['an unknown key', 'ce0000000a83a16901a16300a17801'],
    ['a Cancel carrying an error', 'ce0000000a83a16901a16301a16501'],
    ['an id above 2^53-1', 'ce0000000f82a169cf0020000000000000a16300'],
  ])('refuses %s', (_what, hex) => {
    expect(decodeError(msgpack.decoder, Buffer.from(hex, 'hex'))).toBeInstanceOf(ProtocolError);
  });
});

describe('protosocket-rpc profile, protobuf: a body that is not an Envelope is refused, not misread', () => {
  function varint(value: number): number[] {
    const out: number[] = [];
    while (value >= 0x80) {
      out.push((value % 0x80) | 0x80);
      value = Math.floor(value / 0x80);
    }
    out.push(value);
    return out;
  }
  const frame = (body: number[]) => Buffer.from([...varint(body.length), ...body]);
  const text = (s: string) => [...Buffer.from(s)];

  // protosocket's example-proto Request: request_id = 1, code = 2, body: EchoRequest = 3 (a
  // message), response_behavior = 4 (an enum); Response: kind oneof 3/4 (messages).
  const echoRequest = [0x0a, 2, ...text('hi'), 0x10, ...varint(2 ** 50)];

  it.each([
    ['the example Request with a body: a message in field 3 is no pattern', [0x08, 1, 0x1a, echoRequest.length, ...echoRequest, 0x20, 1]],
    ['the example Response with a stream item: field 4 is length-delimited', [0x08, 1, 0x22, echoRequest.length, ...echoRequest]],
    ['field 1 length-delimited', [0x0a, 1, 0x41]],
    ['a group', [0x08, 1, 0x5b, 0x5c]],
    ['wire type 7', [0x08, 1, 0x0f]],
    ['a pattern that is not UTF-8', [0x08, 1, 0x1a, 2, 0xc3, 0x28]],
    ['code 4', [0x08, 1, 0x10, 4]],
    ['a field running past the body', [0x08, 1, 0x3a, 9, 0x31]],
  ])('refuses %s', (_what, body) => {
    const bytes = frame(body);
    let failure: unknown;
    try {
      // Field-level rules are the codec's; pattern rules are the session's (checkInbound).
      const decodedFrame = decodeOne(protobuf.decoder, bytes);
      profile.checkInbound(decodedFrame, 'client');
      profile.checkInbound(decodedFrame, 'server');
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(ProtocolError);
  });

  it('skips unknown fields above 9, as prost does', () => {
    expect(defined(decodeOne(protobuf.decoder, frame([0x08, 1, 0x1a, 1, ...text('p'), 0x78, 5, 0x8a, 0x01, 1, 0x00])))).toStrictEqual({ id: 1, code: 0, pattern: 'p' });
  });
});

describe('protosocket-rpc profile: codecs and envelope rules', () => {
  it('the JSON codec has no protosocket-rpc form', () => {
    expect(() => codecFor(jsonCodec, profile)).toThrow(UnsupportedByProfileError);
  });

  it('codecs built by the factories have one, or are it; natively the codec is used as it is', () => {
    const reply: RpcFrame = { id: 1, code: ControlCode.Reply, data: 1 };
    expect(decodeOne(codecFor(createMsgpackCodec(), profile).decoder, encode(codecFor(createMsgpackCodec(), profile).encoder, reply)).code).toBe(ControlCode.Normal);
    const direct = createProtobufCodec({ protocol: 'protosocket-rpc' });
    expect(decodeOne(direct.decoder, encode(direct.encoder, reply)).code).toBe(ControlCode.Normal);
    expect(codecFor(direct, profile)).toBeDefined();
    expect(codecFor(msgpackCodec, profileOf(undefined))).toBe(msgpackCodec);
  });

  it.each<[string, RpcFrame, 'client' | 'server']>([
    ['a request without a pattern', { id: 1, code: ControlCode.Normal }, 'client'],
    ['a pattern with control characters', { id: 1, code: ControlCode.Normal, pattern: '\nx' }, 'client'],
    ['a reply with a pattern', { id: 1, code: ControlCode.Normal, pattern: 'p' }, 'server'],
    ['a reply with metadata', { id: 1, code: ControlCode.Normal, meta: { a: 'b' } }, 'server'],
  ])('checkInbound refuses %s', (_what, frame, from) => {
    expect(() => profile.checkInbound(frame, from)).toThrow(ProtocolError);
  });
});
