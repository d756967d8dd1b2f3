import 'reflect-metadata';
import { firstValueFrom, skip } from 'rxjs';
import type { AbortRecord } from './fixtures/app.controller.js';
import { turnsFor, within } from '../helpers/async.js';
import { useResources } from './fixtures/harness.js';
import { Probe } from './fixtures/probe.js';
import type { ProtosocketContext } from '../../src/nest/index.js';

describe('cancellation reaches the Nest handler', () => {
  const res = useResources();

  const setup = () => res.connectedMicroservice();

  it('unsubscribing from a stream unsubscribes the handler Observable and aborts ctx.signal', async () => {
    const { client, probe } = await setup();
    const values: number[] = [];
    const subscription = client.send<number>('ticks', {}).subscribe({ next: (v) => values.push(v) });
    await probe.when('ticks.tick'); // the handler is running

    subscription.unsubscribe();
    // The unsubscribe alone tears the handler down: its signal aborts and its Observable is
    // finalized (waited on as events; `within` is only the safety net).
    const aborted = await within(probe.when<AbortRecord>('ticks.aborted'), 2000, 'the handler signal to abort');
    await within(probe.when('ticks.finalized'), 2000, 'the handler Observable to be finalized');

    expect(aborted.code).toBe('ERR_CANCELLED');

    // The producer is gone: no tick after the teardown.
    const ticks = probe.count('ticks.tick');
    await turnsFor(20);
    expect(probe.count('ticks.tick')).toBe(ticks);
  });

  it('unsubscribing after some values leaves the connection usable', async () => {
    const { client, probe } = await setup();
    await firstValueFrom(client.send<number>('ticks', {}).pipe(skip(2)));
    await probe.when('ticks.aborted');
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [1, 2]))).resolves.toBe(3);
  });

  it('a per-call deadline fails the call with ERR_DEADLINE_EXCEEDED and aborts the handler', async () => {
    const { client, probe } = await setup();
    const startedAt = performance.now();
    const error = await firstValueFrom(client.send('never', {}, { timeoutMs: 50 })).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'ERR_DEADLINE_EXCEEDED' });
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(45);

    const aborted = await probe.when<AbortRecord>('never.aborted');
    // Whichever fires first, the server's own deadline timer or the client's Cancel after its
    // timer (which carries the expired budget), the handler sees a deadline, not a cancel.
    expect(aborted.code).toBe('ERR_DEADLINE_EXCEEDED');
    await probe.when('never.finalized');
  });

  it('the client-wide default timeout applies when the call gives none', async () => {
    const ms = await res.microservice();
    const client = res.client(ms.port, { timeoutMs: 50 });
    await expect(firstValueFrom(client.send('never', {}))).rejects.toMatchObject({ code: 'ERR_DEADLINE_EXCEEDED' });
    await ms.app.get(Probe).when('never.aborted');
  });
});

describe('processing hooks (instrumentation)', () => {
  const res = useResources();

  it('run around each call, and the end hook runs when a cancel tears the handler down', async () => {
    const ms = await res.microservice();
    const probe = ms.app.get(Probe);
    const started: string[] = [];
    const ended: string[] = [];
    ms.server.setOnProcessingStartHook((_transport, context, done) => {
      started.push((context as ProtosocketContext).getPattern());
      return done();
    });
    ms.server.setOnProcessingEndHook((_transport, context) => {
      ended.push((context as ProtosocketContext).getPattern());
      probe.record('hook.ended', (context as ProtosocketContext).getPattern());
    });
    const client = res.client(ms.port);

    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [1, 2]))).resolves.toBe(3);
    expect(started).toEqual(['{"cmd":"sum"}']);
    expect(ended).toEqual(['{"cmd":"sum"}']);

    const subscription = client.send('never', {}).subscribe({ error: () => {} });
    await probe.when('never.entered');
    subscription.unsubscribe();
    await probe.when('never.finalized');
    expect(started).toEqual(['{"cmd":"sum"}', 'never']);
    expect(ended).toEqual(['{"cmd":"sum"}', 'never']);
  });
});
