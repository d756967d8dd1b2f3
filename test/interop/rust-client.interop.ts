import { Test } from '@nestjs/testing';
import type { INestMicroservice } from '@nestjs/common';
import { ProtosocketServer } from '../../src/nest/index.js';
import { InteropModule, probe } from './interop.app.js';
import { CODECS, PeerProcess, whenStill } from './peer-process.js';

/**
 * A stock protosocket-rpc 2.0.2 client (test/interop/peer, client mode) against a Nest app on
 * ProtosocketServer with `protocol: 'protosocket-rpc'`, with each of the two stock codecs.
 */
describe.each(CODECS)('Rust protosocket-rpc client ($rust) -> Nest server', ({ rust, codec }) => {
  let app: INestMicroservice;
  let server: ProtosocketServer;
  const peers: PeerProcess[] = [];

  beforeEach(async () => {
    probe.reset();
    const moduleRef = await Test.createTestingModule({ imports: [InteropModule] }).compile();
    server = new ProtosocketServer({ host: '127.0.0.1', port: 0, codec, protocol: 'protosocket-rpc', drainTimeoutMs: 300 });
    app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
    await app.listen();
  });

  afterEach(async () => {
    for (const peer of peers.splice(0)) await peer.stop();
    await app.close();
  });

  function client(scenarios: string[], firstId?: number): PeerProcess {
    const peer = PeerProcess.client(rust, server.port as number, scenarios, firstId);
    peers.push(peer);
    return peer;
  }

  it('unary: a value comes back as one Normal that completes send_unary', async () => {
    const line = await client(['call:echo:{"hello":"world","n":[1,2.5,-3]}']).scenario('call:echo:{"hello":"world","n":[1,2.5,-3]}');
    expect(line).toMatchObject({ ok: true, reply: { code: 0, data: { hello: 'world', n: [1, 2.5, -3] } } });
    expect(line.reply).not.toHaveProperty('error');
  });

  it('a 200 KiB payload both ways', async () => {
    const peer = client(['call:big', 'big-echo:echo']);
    expect(await peer.scenario('call:big')).toMatchObject({ ok: true, reply: { code: 0, data: { $bytes_len: 200 * 1024 } } });
    expect(await peer.scenario('big-echo:echo')).toMatchObject({ ok: true });
  });

  it('a stream of 10,000 items to a slow consumer: every item arrives in order; protosocket-rpc reads ahead without bound', async () => {
    const peer = client(['slow-count:count:10000']);
    await peer.waitFor((line) => line.event === 'stalled', 'the Rust consumer to stall after one item');
    const producedWhileStalled = await whenStill(() => probe.produced, 300);
    // protosocket-rpc 2.0.2's client queues a stream's items in an unbounded channel
    // (spillway::channel_with_concurrency(1), capacity u64::MAX) and keeps reading the socket,
    // so a slow Rust consumer never pushes back: our producer runs to the end (~20 MB here).
    // Our side stays within its own bounds: the generator is pulled only while the connection
    // is under its high-water mark.
    expect(producedWhileStalled).toBe(10_000);
    peer.go();
    expect(await peer.scenario('slow-count:count:10000')).toMatchObject({ ok: true, count: 10_000, in_order: true, end: { kind: 'Finished' } });
  });

  it('an Observable of one value is a stream: one item then End for send_streaming, the value for send_unary', async () => {
    const peer = client(['stream:one', 'call:one']);
    const streamed = await peer.scenario('stream:one');
    expect(streamed).toMatchObject({ ok: true, end: { kind: 'Finished' } });
    expect(streamed.items).toEqual([expect.objectContaining({ code: 0, data: 41 })]);
    expect(await peer.scenario('call:one')).toMatchObject({ ok: true, reply: { code: 0, data: 41 } });
  });

  it('an Observable of many values: every item then End', async () => {
    const streamed = await client(['stream:many']).scenario('stream:many');
    expect(streamed).toMatchObject({ ok: true, end: { kind: 'Finished' } });
    expect((streamed.items as { data: unknown }[]).map((item) => item.data)).toEqual([0, 1, 2, 3, 4]);
  });

  it('cancel from Rust (the completion dropped) aborts the handler with ERR_CANCELLED', async () => {
    const peer = client(['cancel-call:wait', 'call:echo:"after"']);
    await peer.waitFor((line) => line.event === 'sent', 'the Rust call to be sent');
    await probe.started.promise;
    peer.go();
    expect(await probe.aborted.promise).toBe('ERR_CANCELLED');
    expect(await peer.scenario('call:echo:"after"')).toMatchObject({ ok: true, reply: { data: 'after' } });
  });

  it('cancel of a stream from Rust (dropped after 3 items) stops the producer', async () => {
    const line = await client(['cancel-stream:ticks', 'call:echo:1']).scenario('cancel-stream:ticks');
    expect(line).toMatchObject({ ok: true, end: { kind: 'DroppedByClient' } });
    expect(await probe.stopped.promise).toBeGreaterThanOrEqual(2);
  });

  it('a handler error is a Normal carrying the error body', async () => {
    const line = await client(['call:fail']).scenario('call:fail');
    expect(line).toMatchObject({ ok: true, reply: { code: 0, error: { code: 'E_INTEROP', message: 'the fail handler always fails' } } });
    expect(line.reply).not.toHaveProperty('data');
  });

  it('an unknown pattern is answered with an error, for unary and streaming callers alike', async () => {
    const peer = client(['call:nope', 'stream:nope']);
    // Nest's own error body for it is a string.
    expect(await peer.scenario('call:nope')).toMatchObject({ ok: true, reply: { error: expect.stringContaining('no matching message handler') } });
    const streamed = await peer.scenario('stream:nope');
    // The error is an item (the envelope carries it), then the End finishes the stream.
    expect(streamed).toMatchObject({ ok: true, end: { kind: 'Finished' } });
    expect(streamed.items).toEqual([expect.objectContaining({ error: expect.stringContaining('no matching message handler') })]);
  });

  it('an event pattern called by Rust runs the @EventPattern handler and answers with no payload', async () => {
    const line = await client(['call:note:{"text":"hi"}']).scenario('call:note:{"text":"hi"}');
    expect(line).toMatchObject({ ok: true, reply: { code: 0 } });
    expect(line.reply).not.toHaveProperty('data');
    expect(probe.notes).toEqual([{ text: 'hi' }]);
  });

  it('server shutdown with a call in flight: the Rust caller gets ERR_SHUTTING_DOWN as the error', async () => {
    const peer = client(['call:wait']);
    await probe.started.promise;
    await app.close();
    expect(await peer.scenario('call:wait')).toMatchObject({ ok: true, reply: { error: { code: 'ERR_SHUTTING_DOWN' } } });
    expect(await probe.aborted.promise).toBe('ERR_SHUTTING_DOWN');
  });

  it('ids above 2^32 (u64, chosen by the Rust caller) come back on the answers', async () => {
    const first = 2 ** 32 + 10;
    const peer = client(['call:echo:1', 'call:echo:2'], first);
    expect(await peer.scenario('call:echo:1')).toMatchObject({ ok: true, id: first, reply: { id: first, data: 1 } });
    expect(await peer.scenario('call:echo:2')).toMatchObject({ ok: true, id: first + 1, reply: { id: first + 1, data: 2 } });
    expect(probe.ids).toEqual([first, first + 1]);
  });
});
