import { ControlCode, type RpcFrame } from '../../src/rpc/index.js';
import { Point, type CodecName } from '../rpc/wire/support.js';

/**
 * The frames the golden vectors are generated from (`UPDATE_VECTORS=1`, see README.md). Once
 * written, the files in test/vectors/<codec>/ are the source of truth: vectors.spec.ts checks
 * the codecs against the files, and only checks that every name here has its files.
 *
 * Ids follow a session: call 1 is a unary call, call 5 a stream that ends (the same id as
 * protosocket-prost's Cancel and End examples, so those bytes can be compared), events and
 * GoAway use id 0.
 */
const common: Record<string, RpcFrame> = {
  // A Nest-style request: the pattern is Nest's normalized pattern, the time budget 5 s.
  'unary-request': {
    id: 1,
    code: ControlCode.Normal,
    pattern: '{"cmd":"sum"}',
    timeoutMs: 5000,
    meta: { 'x-trace-id': 'abc123' },
    data: [1, 2, 3],
  },
  reply: { id: 1, code: ControlCode.Reply, data: 6 },
  // A handler that returned null: the payload is present and null.
  'reply-null': { id: 2, code: ControlCode.Reply, data: null },
  // A handler that returned undefined: no payload at all.
  'reply-empty': { id: 3, code: ControlCode.Reply },
  'stream-item': { id: 5, code: ControlCode.Normal, data: { tick: 1, price: 101.25 } },
  end: { id: 5, code: ControlCode.End },
  error: {
    id: 4,
    code: ControlCode.Error,
    data: { code: 'ERR_NO_HANDLER', message: 'no handler for pattern {"cmd":"nope"}' },
  },
  cancel: { id: 5, code: ControlCode.Cancel },
  // The client's deadline passed: the Cancel carries the budget that ran out.
  'cancel-deadline': { id: 6, code: ControlCode.Cancel, timeoutMs: 500 },
  // Multi-byte UTF-8 in the pattern, the metadata and the payload.
  event: { id: 0, code: ControlCode.Event, pattern: 'user.créé', meta: { région: 'zürich' }, data: { name: 'Zoë ✓ 😀' } },
  ping: { id: 1, code: ControlCode.Ping },
  pong: { id: 1, code: ControlCode.Pong },
  goaway: { id: 0, code: ControlCode.GoAway },
  // The consumer of stream 5 read 512 items: the server may send 512 more (flow control).
  credit: { id: 5, code: ControlCode.Credit, data: 512 },
  'binary-request': { id: 6, code: ControlCode.Normal, pattern: 'upload', data: Buffer.from('00010203fffe7f80', 'hex') },
  'binary-reply': { id: 6, code: ControlCode.Reply, data: Buffer.from('cafebabe', 'hex') },
};

export function catalogue(codec: CodecName): Record<string, RpcFrame> {
  if (codec !== 'protobuf') return common;
  return {
    ...common,
    // A protobuf message as the payload: a google.protobuf.Any.
    'message-reply': { id: 7, code: ControlCode.Reply, data: Point.create({ x: 3, y: -4 }) },
  };
}
