import { Connection, EncodeError, OutboundBuffer } from '../../../src/core/index.js';
import { ControlCode, type RpcFrame } from '../../../src/rpc/index.js';
import { duplexPair } from '../../helpers/duplex-pair.js';
import { thrownBy } from '../../helpers/errors.js';
import { encode } from '../../helpers/frames.js';
import { codecNames, codecs } from './support.js';

// Every codec goes through the envelope's checkOutbound: a frame no decoder would accept is
// refused before a byte is written, as ERR_ENCODE, rather than put on the wire for the peer to reject.
describe.each(codecNames)('%s encoder: outbound checks', (name) => {
  const { encoder, decoder } = codecs[name];
  const refused: [string, RpcFrame][] = [
    ['a negative id', { id: -1, code: ControlCode.Normal }],
    ['an id over 2^32-1', { id: 2 ** 32, code: ControlCode.Normal }],
    ['a fractional id', { id: 1.5, code: ControlCode.Normal }],
    ['an unknown control code', { id: 1, code: 10 as ControlCode }],
    ['a control code over a byte', { id: 1, code: 0x109 as ControlCode }],
  ];

  it.each(refused)('refuses %s with ERR_ENCODE, writing nothing', (_what, frame) => {
    const out = new OutboundBuffer();
    const error = thrownBy(() => encoder.encode(frame, out));
    expect(error).toBeInstanceOf(EncodeError);
    expect(error).toMatchObject({ code: 'ERR_ENCODE' });
    expect(out.length).toBe(0);
  });

  it('accepts every known code', () => {
    for (const code of Object.values(ControlCode)) expect(encode(encoder, { id: 1, code }).length).toBeGreaterThan(0);
  });

  it('through Connection.send the refusal is ERR_ENCODE too, with nothing queued', async () => {
    const [local, remote] = duplexPair();
    const connection = new Connection<RpcFrame, RpcFrame>(local, { encoder, decoder, reactor: () => ({ onMessage() {} }) });
    const error = thrownBy(() => connection.send({ id: 1, code: 10 as ControlCode }));
    expect(error).toBeInstanceOf(EncodeError);
    expect(error).toMatchObject({ code: 'ERR_ENCODE' });
    expect(connection.queuedBytes).toBe(0);
    connection.destroy();
    remote.destroy();
    await connection.closed;
  });
});
