import { Cleanup } from '../helpers/cleanup.js';
import { rawPeer, whenClosed } from '../helpers/net.js';
import { rpcPair } from '../rpc/support.js';
import { histogram, sum, TelemetryHarness } from './support.js';

/** The metrics' values after a known load (in-memory metric exporter, cumulative). */
describe('OpenTelemetry metrics', () => {
  let telemetry: TelemetryHarness;
  const cleanup = new Cleanup();
  beforeEach(() => {
    telemetry = new TelemetryHarness({ maxPatterns: 3 });
  });
  afterEach(async () => {
    await cleanup.run();
    await telemetry.shutdown();
  });

  it('durations by pattern and outcome, items per call, in-flight calls, connections, frames and bytes', async () => {
    const pair = await rpcPair((server) => {
      server.handle('ok', (data) => data);
      server.handle('fail', () => {
        throw Object.assign(new Error('no'), { code: 'E_NO' });
      });
      server.handle('feed', async function* () {
        yield 1;
        yield 2;
        yield 3;
      });
      for (const extra of ['x1', 'x2']) server.handle(extra, () => extra);
    });
    cleanup.add(() => pair.dispose());
    const { client } = pair;
    for (let i = 0; i < 5; i++) await client.call('ok', i);
    for (let i = 0; i < 2; i++) await expect(client.call('fail', i)).rejects.toMatchObject({ code: 'ERR_REMOTE' });
    for await (const _ of client.stream('feed', null));
    await client.call('x1', null);
    await client.call('x2', null);

    const collected = await telemetry.collect();
    const base = { 'rpc.system': 'protosocket' };
    for (const side of ['client', 'server'] as const) {
      expect(histogram(collected, `rpc.${side}.duration`, { ...base, 'rpc.method': 'ok', 'rpc.protosocket.outcome': 'ok' })?.count).toBe(5);
      expect(histogram(collected, `rpc.${side}.duration`, { 'rpc.method': 'fail', 'rpc.protosocket.outcome': 'error', 'error.type': 'E_NO' })?.count).toBe(2);
      expect(histogram(collected, `rpc.${side}.responses_per_rpc`, { 'rpc.method': 'feed' })).toMatchObject({ count: 1, sum: 3 });
      expect(histogram(collected, `rpc.${side}.responses_per_rpc`, { 'rpc.method': 'ok' })).toMatchObject({ count: 5, sum: 5 });
      // Three patterns fit under maxPatterns: 3; the next ones are grouped.
      expect(histogram(collected, `rpc.${side}.duration`, { 'rpc.method': '_OTHER' })?.count).toBe(2);
      expect(histogram(collected, `rpc.${side}.duration`, { 'rpc.method': 'x1' })).toBeUndefined();
      expect(sum(collected, 'protosocket.calls.in_flight', { 'rpc.protosocket.side': side, 'rpc.method': 'ok' })).toBe(0);
      expect(sum(collected, 'protosocket.connections.open', { 'rpc.protosocket.side': side })).toBe(1);
    }
    const io = (name: string, side: string, direction: string) => sum(collected, name, { 'rpc.protosocket.side': side, 'rpc.protosocket.direction': direction });
    // 10 requests; 5 replies + 2 errors + 3 items and an End + 2 replies.
    expect(io('protosocket.io.frames', 'client', 'out')).toBe(10);
    expect(io('protosocket.io.frames', 'server', 'in')).toBe(10);
    expect(io('protosocket.io.frames', 'server', 'out')).toBe(13);
    expect(io('protosocket.io.frames', 'client', 'in')).toBe(13);
    expect(io('protosocket.io.bytes', 'client', 'out')).toBeGreaterThan(0);
    expect(io('protosocket.io.bytes', 'client', 'out')).toBe(io('protosocket.io.bytes', 'server', 'in'));
    expect(io('protosocket.io.bytes', 'server', 'out')).toBe(io('protosocket.io.bytes', 'client', 'in'));

    // Closed connections keep their totals; they are no longer open.
    // close() resolves once the connection closed, and connection:close is published before that.
    await client.close();
    const after = await telemetry.collect();
    expect(sum(after, 'protosocket.connections.open', { 'rpc.protosocket.side': 'client' })).toBe(0);
    expect(sum(after, 'protosocket.io.frames', { 'rpc.protosocket.side': 'client', 'rpc.protosocket.direction': 'out' })).toBe(10);
  });

  it('in-flight calls while they run', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    let allStarted!: () => void;
    const running = new Promise<void>((resolve) => (allStarted = resolve));
    const pair = await rpcPair((server) =>
      server.handle('wait', async () => {
        if (++started === 3) allStarted();
        await gate;
      }),
    );
    cleanup.add(() => pair.dispose());
    const calls = [1, 2, 3].map((i) => pair.client.call('wait', i));
    await running;
    const during = await telemetry.collect();
    expect(sum(during, 'protosocket.calls.in_flight', { 'rpc.protosocket.side': 'client', 'rpc.method': 'wait' })).toBe(3);
    expect(sum(during, 'protosocket.calls.in_flight', { 'rpc.protosocket.side': 'server', 'rpc.method': 'wait' })).toBe(3);
    release();
    await Promise.all(calls);
    const after = await telemetry.collect();
    expect(sum(after, 'protosocket.calls.in_flight', { 'rpc.protosocket.side': 'client', 'rpc.method': 'wait' })).toBe(0);
  });

  it('protocol errors by code', async () => {
    const pair = await rpcPair(() => {}, { server: { limits: { maxFrameBytes: 1024 } } });
    cleanup.add(() => pair.dispose());
    const peer = await rawPeer(pair.port);
    cleanup.add(() => peer.destroy());
    peer.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    await whenClosed(peer);
    const collected = await telemetry.collect();
    expect(sum(collected, 'protosocket.protocol.errors', { 'error.type': 'ERR_FRAME_TOO_LARGE', 'rpc.protosocket.side': 'server' })).toBe(1);
  });
});
