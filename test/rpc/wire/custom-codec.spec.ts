import { readFileSync } from 'node:fs';
import { FrameTooLargeError, NEED_MORE, OutboundBuffer, ProtocolError } from '../../../src/core/index.js';
import { FrameReader, INCOMPLETE } from '../../../src/core/frame-reader.js';
import type { Codec, Decoder, Encoder } from '../../../src/core/index.js';
import { RpcClient, RpcServer, type RpcFrame } from '../../../src/rpc/index.js';

// The codec below is the one in docs/custom-codec.md (the last test checks they agree).
// --- custom codec ---
/**
 * Newline-delimited JSON: each frame is one RpcFrame as a JSON object, then "\n".
 *
 *   {"id":1,"code":0,"pattern":"sum","data":[1,2]}\n
 *
 * JSON.stringify escapes every newline inside strings, so the first 0x0A ends the frame.
 */
const NEWLINE = 0x0a;

const ndjsonEncoder: Encoder<RpcFrame> = {
  encode(frame, out) {
    out.writeUtf8(JSON.stringify(frame));
    out.writeUInt8(NEWLINE);
  },
};

const ndjsonDecoder: Decoder<RpcFrame> = {
  // The size is known once the newline has arrived; until then, NEED_MORE. (The reader still
  // enforces maxFrameBytes on what it buffers while it waits.)
  frameSize(buffer, start, end) {
    const newline = buffer.indexOf(NEWLINE, start);
    return newline === -1 || newline >= end ? NEED_MORE : newline + 1 - start;
  },
  // Called with exactly one frame: [start, end) ends with the newline.
  decode(buffer, start, end) {
    const frame = JSON.parse(buffer.toString('utf8', start, end - 1)) as Partial<RpcFrame> | null;
    if (typeof frame?.id !== 'number' || typeof frame.code !== 'number') {
      throw new ProtocolError('a frame needs a numeric id and code');
    }
    return frame as RpcFrame;
  },
};

export const ndjsonCodec: Codec<RpcFrame, RpcFrame> = { encoder: ndjsonEncoder, decoder: ndjsonDecoder };
// --- end ---

function lines(frames: RpcFrame[]): string {
  const out = new OutboundBuffer();
  for (const frame of frames) ndjsonCodec.encoder.encode(frame, out);
  return Buffer.concat(out.take()).toString('utf8');
}

describe('a user-written codec (newline-delimited JSON)', () => {
  it('writes one JSON line per frame', () => {
    expect(lines([{ id: 1, code: 0, pattern: 'sum', data: [1, 2] }, { id: 1, code: 3, data: 'a\nb' }])).toBe(
      '{"id":1,"code":0,"pattern":"sum","data":[1,2]}\n{"id":1,"code":3,"data":"a\\nb"}\n',
    );
  });

  it('reads frames fed one byte at a time, multi-byte characters split', () => {
    const bytes = Buffer.from(lines([{ id: 1, code: 3, data: 'Zoë ✓ 😀' }, { id: 2, code: 2 }]));
    const reader = new FrameReader(ndjsonCodec.decoder, 1024);
    const frames: RpcFrame[] = [];
    for (let at = 0; at < bytes.length; at++) {
      reader.push(bytes.subarray(at, at + 1));
      for (let frame = reader.read(); frame !== INCOMPLETE; frame = reader.read()) frames.push(frame);
    }
    expect(frames).toEqual([{ id: 1, code: 3, data: 'Zoë ✓ 😀' }, { id: 2, code: 2 }]);
  });

  it('is refused once a line without a newline outgrows maxFrameBytes', () => {
    const reader = new FrameReader(ndjsonCodec.decoder, 16);
    reader.push(Buffer.from('{"id":1,"code":0,"data":"no end in sight"'));
    expect(() => reader.read()).toThrow(FrameTooLargeError);
  });

  it('serves unary calls, streams and errors between RpcServer and RpcClient', async () => {
    const server = new RpcServer({ codec: ndjsonCodec });
    server
      .handle('sum', (data) => (data as number[]).reduce((a, b) => a + b, 0))
      .handle('count', async function* (data) {
        for (let i = 0; i < (data as number); i++) yield i;
      })
      .handle('fail', () => {
        throw new Error('nope');
      });
    await server.listen();
    const client = new RpcClient({ port: server.port, codec: ndjsonCodec, reconnect: false });
    try {
      expect(await client.call('sum', [1, 2, 3])).toBe(6);
      const items: unknown[] = [];
      for await (const item of client.stream('count', 3)) items.push(item);
      expect(items).toEqual([0, 1, 2]);
      await expect(client.call('fail', null)).rejects.toMatchObject({ code: 'ERR_REMOTE', message: 'nope' });
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('is the codec docs/custom-codec.md shows', () => {
    const between = (text: string, from: string, to: string): string => {
      const start = text.indexOf(from) + from.length;
      return text.slice(start, text.indexOf(to, start)).trim();
    };
    const spec = readFileSync(new URL(import.meta.url), 'utf8');
    const doc = readFileSync(new URL('../../../docs/custom-codec.md', import.meta.url), 'utf8');
    const code = between(spec, '// --- custom codec ---', '// --- end ---');
    expect(code.length).toBeGreaterThan(500);
    expect(between(doc, "import type { RpcFrame } from 'nestjs-protosocket/rpc';", '```')).toBe(code);
  });
});
