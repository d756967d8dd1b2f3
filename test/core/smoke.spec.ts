import { connect, listen, rawCodec, type Connection } from '../../src/core/index.js';

describe('core smoke', () => {
  it('echoes a raw frame over TCP', async () => {
    const listener = await listen({
      ...rawCodec,
      reactor: (connection: Connection<Buffer, Uint8Array>) => ({
        onMessage: (message: Buffer) => connection.send(Buffer.from(message)),
      }),
    });
    const received: Buffer[] = [];
    let onReply!: () => void;
    const replied = new Promise<void>((resolve) => (onReply = resolve));
    const client = await connect({
      ...rawCodec,
      port: listener.port,
      reactor: () => ({ onMessage: (m: Buffer) => { received.push(Buffer.from(m)); onReply(); } }),
    });
    client.send(Buffer.from('hello'));
    await replied;
    expect(received.map((b) => b.toString())).toEqual(['hello']);
    await client.close();
    await listener.close();
  });
});
