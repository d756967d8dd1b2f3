import type protobuf from 'protobufjs/light.js';
import type { Codec } from '../../src/core/index.js';
import { msgpackCodec } from '../../src/rpc/wire/msgpack-codec.js';
import { createProtobufCodec } from '../../src/rpc/wire/protobuf-codec.js';
import { RemoteError, RpcClient, RpcServer, type RpcFrame } from '../../src/rpc/index.js';
import { exampleRoot, Point, Quote } from './wire/support.js';

interface Pair {
  server: RpcServer;
  client: RpcClient;
}

async function start(codec: Codec<RpcFrame, RpcFrame>): Promise<Pair> {
  const server = new RpcServer({ codec });
  server
    .handle('sum', (data) => (data as number[]).reduce((a, b) => a + b, 0))
    .handle('count', async function* (data) {
      for (let i = 0; i < (data as number); i++) yield { i };
    })
    .handle('fail', () => {
      throw Object.assign(new Error('out of stock'), { code: 'E_STOCK' });
    })
    .handle('reverse', (data) => {
      if (!Buffer.isBuffer(data)) throw new Error('expected a Buffer');
      return Buffer.from(data).reverse();
    })
    .handle('chunks', async function* (data) {
      for (let i = 0; i < (data as number); i++) yield Buffer.alloc(4, i);
    });
  await server.listen();
  const client = new RpcClient({ port: server.port, codec, reconnect: false });
  return { server, client };
}

async function stop({ server, client }: Pair): Promise<void> {
  await client.close();
  await server.close();
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

const protobufCodec = createProtobufCodec({ root: exampleRoot });

describe.each([
  ['msgpack', msgpackCodec],
  ['protobuf', protobufCodec],
])('RpcServer and RpcClient over the %s codec', (_name, codec) => {
  let pair: Pair;
  beforeEach(async () => {
    pair = await start(codec);
  });
  afterEach(async () => {
    await stop(pair);
  });

  it('makes a unary call', async () => {
    expect(await pair.client.call('sum', [1, 2, 3, 4])).toBe(10);
  });

  it('streams items, then ends', async () => {
    expect(await collect(pair.client.stream('count', 4))).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
  });

  it('delivers a handler error as RemoteError with its body', async () => {
    const error = await pair.client.call('fail', null).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).body).toEqual({ name: 'Error', message: 'out of stock', code: 'E_STOCK' });
    await expect(pair.client.call('nowhere', null)).rejects.toMatchObject({ remoteCode: 'ERR_NO_HANDLER' });
  });

  it('carries Buffer payloads both ways, small and large, as Buffers', async () => {
    const small = await pair.client.call<Buffer>('reverse', Buffer.from([1, 2, 3]));
    expect(Buffer.isBuffer(small)).toBe(true);
    expect([...small]).toEqual([3, 2, 1]);
    const large = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < large.length; i++) large[i] = i & 0xff;
    const reversed = await pair.client.call<Buffer>('reverse', large);
    expect(reversed.equals(Buffer.from(large).reverse())).toBe(true);
    const chunks = await collect(pair.client.stream<Buffer>('chunks', 3));
    expect(chunks.map((chunk) => Buffer.isBuffer(chunk) && chunk.toString('hex'))).toEqual(['00000000', '01010101', '02020202']);
  });
});

describe('RpcServer and RpcClient over the protobuf codec: message payloads', () => {
  let pair: Pair;
  beforeEach(async () => {
    pair = await start(protobufCodec);
    pair.server
      .handle('quote', (data) => {
        const point = Point.toObject(data as protobuf.Message) as { x: number; y: number };
        return Quote.create({ symbol: `P${point.x}:${point.y}`, price: point.x * point.y, tags: ['computed'] });
      })
      .handle('points', async function* (data) {
        for (let i = 0; i < (data as number); i++) yield Point.create({ x: i, y: -i });
      });
  });
  afterEach(async () => {
    await stop(pair);
  });

  it('sends a message and receives one, decoded with the root', async () => {
    const reply = await pair.client.call('quote', Point.create({ x: 3, y: -4 }));
    expect(reply).toBeInstanceOf(Quote.ctor);
    expect(Quote.toObject(reply as protobuf.Message)).toEqual({ symbol: 'P3:-4', price: -12, tags: ['computed'] });
  });

  it('streams messages', async () => {
    const points = await collect(pair.client.stream<protobuf.Message>('points', 3));
    expect(points.map((point) => Point.toObject(point, { defaults: true }))).toEqual([
      { x: 0, y: 0 },
      { x: 1, y: -1 },
      { x: 2, y: -2 },
    ]);
  });
});
