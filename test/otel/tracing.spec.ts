import 'reflect-metadata';
import { Controller, Module, type CallHandler, type ExecutionContext, type NestInterceptor, UseInterceptors, Injectable } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { firstValueFrom, map, type Observable } from 'rxjs';
import { useResources } from '../nest/fixtures/harness.js';
import { deferred, within } from '../helpers/async.js';
import { Cleanup } from '../helpers/cleanup.js';
import { rpcPair } from '../rpc/support.js';
import { TelemetryHarness } from './support.js';

/** Spans for calls, on both sides, with trace context across the wire (in-memory span exporter). */
describe('OpenTelemetry tracing', () => {
  let telemetry: TelemetryHarness;
  const cleanup = new Cleanup();
  beforeEach(() => {
    telemetry = new TelemetryHarness();
  });
  afterEach(async () => {
    await cleanup.run();
    await telemetry.shutdown();
  });

  async function pair(setup: Parameters<typeof rpcPair>[0]) {
    const created = await rpcPair(setup);
    cleanup.add(() => created.dispose());
    return created;
  }

  const inner = () => trace.getTracer('app');

  it('a client span and a server span, parent and child across the wire, with the RPC attributes; a span made in the handler is the server span child', async () => {
    const { client, port } = await pair((server) =>
      server.handle('quotes.get', async (data) => {
        await Promise.resolve();
        inner().startSpan('db.query').end();
        return { symbol: data };
      }),
    );
    await inner().startActiveSpan('request', async (parent) => {
      await client.call('quotes.get', 'ACME');
      parent.end();
    });
    const [parent] = telemetry.finished('request');
    const [clientSpan, serverSpan] = [SpanKind.CLIENT, SpanKind.SERVER].map((kind) => telemetry.finished('quotes.get').find((s) => s.kind === kind));
    const [db] = telemetry.finished('db.query');
    expect(parent && clientSpan && serverSpan && db).toBeDefined();
    const traceId = parent!.spanContext().traceId;
    for (const span of [clientSpan!, serverSpan!, db!]) expect(span.spanContext().traceId).toBe(traceId);
    expect(clientSpan!.parentSpanContext?.spanId).toBe(parent!.spanContext().spanId);
    expect(serverSpan!.parentSpanContext?.spanId).toBe(clientSpan!.spanContext().spanId);
    expect(serverSpan!.parentSpanContext?.isRemote).toBe(true);
    expect(db!.parentSpanContext?.spanId).toBe(serverSpan!.spanContext().spanId);
    expect(clientSpan!.attributes).toMatchObject({
      'rpc.system': 'protosocket',
      'rpc.method': 'quotes.get',
      'server.address': '127.0.0.1',
      'server.port': port,
      'network.transport': 'tcp',
      'rpc.protosocket.outcome': 'ok',
      'rpc.protosocket.items': 1,
    });
    expect(serverSpan!.attributes).toMatchObject({ 'rpc.system': 'protosocket', 'rpc.method': 'quotes.get', 'client.address': '127.0.0.1', 'rpc.protosocket.outcome': 'ok' });
    expect(clientSpan!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('the trace context travels as W3C traceparent metadata, and the caller metadata object is left as it was', async () => {
    const { client } = await pair((server) => server.handle('meta', (_data, context) => context.meta));
    const meta = { user: 'u' };
    const seen = (await client.call('meta', null, { meta })) as Record<string, string>;
    expect(seen.user).toBe('u');
    expect(seen.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const clientSpan = telemetry.finished('meta').find((s) => s.kind === SpanKind.CLIENT)!;
    expect(seen.traceparent).toBe(`00-${clientSpan.spanContext().traceId}-${clientSpan.spanContext().spanId}-01`);
    expect(meta).toEqual({ user: 'u' });
  });

  it('a traceparent already in the caller metadata is replaced by the client span one, in a copy', async () => {
    const { client } = await pair((server) => server.handle('meta', (_data, context) => context.meta));
    const stale = '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01';
    const meta = { traceparent: stale };
    const seen = (await client.call('meta', null, { meta })) as Record<string, string>;
    const clientSpan = telemetry.finished('meta').find((s) => s.kind === SpanKind.CLIENT)!;
    expect(seen.traceparent).toBe(`00-${clientSpan.spanContext().traceId}-${clientSpan.spanContext().spanId}-01`);
    expect(meta).toEqual({ traceparent: stale });
  });

  it('a stream span ends when the stream ends, with its item count', async () => {
    const gate = deferred();
    const { client } = await pair((server) =>
      server.handle('feed', async function* () {
        yield 0;
        await gate.promise;
        yield 1;
        yield 2;
      }),
    );
    const stream = client.stream('feed', null);
    const first = await stream.next();
    expect(first.value).toBe(0);
    expect(telemetry.finished('feed')).toHaveLength(0);
    gate.resolve();
    for await (const _ of stream);
    const clientSpan = telemetry.finished('feed').find((s) => s.kind === SpanKind.CLIENT)!;
    expect(clientSpan.attributes['rpc.protosocket.items']).toBe(3);
    const serverSpan = await within(waitForSpan(telemetry, 'feed', SpanKind.SERVER), 5000, 'server span');
    expect(serverSpan.attributes['rpc.protosocket.items']).toBe(3);
  });

  it('error.type and the status for an error, a deadline and a cancel', async () => {
    const started = deferred();
    const { client } = await pair((server) => {
      server.handle('fail', () => {
        throw Object.assign(new Error('no such symbol'), { code: 'UNKNOWN_SYMBOL' });
      });
      server.handle('hang', (_data, context) => {
        started.resolve();
        return new Promise((resolve) => context.signal.addEventListener('abort', resolve));
      });
    });
    await expect(client.call('fail', null)).rejects.toMatchObject({ code: 'ERR_REMOTE' });
    await expect(client.call('hang', null, { timeoutMs: 20 })).rejects.toMatchObject({ code: 'ERR_DEADLINE_EXCEEDED' });
    const controller = new AbortController();
    const cancelled = client.call('hang', 'cancel-me', { signal: controller.signal });
    await started.promise;
    controller.abort();
    await expect(cancelled).rejects.toMatchObject({ code: 'ERR_CANCELLED' });

    const failClient = await waitForSpan(telemetry, 'fail', SpanKind.CLIENT);
    const failServer = await waitForSpan(telemetry, 'fail', SpanKind.SERVER);
    expect(failClient.attributes).toMatchObject({ 'error.type': 'UNKNOWN_SYMBOL', 'rpc.protosocket.outcome': 'error' });
    expect(failClient.status).toEqual({ code: SpanStatusCode.ERROR, message: 'no such symbol' });
    expect(failServer.attributes['error.type']).toBe('UNKNOWN_SYMBOL');
    expect(failServer.status.code).toBe(SpanStatusCode.ERROR);

    const hangSpans = async (count: number) => {
      while (telemetry.finished('hang').length < count) await new Promise((resolve) => setImmediate(resolve));
      return telemetry.finished('hang');
    };
    const hang = await within(hangSpans(4), 5000, 'four hang spans');
    const byOutcome = (kind: SpanKind, outcome: string) => hang.find((s) => s.kind === kind && s.attributes['rpc.protosocket.outcome'] === outcome)!;
    expect(byOutcome(SpanKind.CLIENT, 'deadline_exceeded').attributes['error.type']).toBe('ERR_DEADLINE_EXCEEDED');
    expect(byOutcome(SpanKind.CLIENT, 'deadline_exceeded').status.code).toBe(SpanStatusCode.ERROR);
    expect(byOutcome(SpanKind.SERVER, 'deadline_exceeded').status.code).toBe(SpanStatusCode.ERROR);
    expect(byOutcome(SpanKind.CLIENT, 'cancelled').attributes['error.type']).toBe('ERR_CANCELLED');
    expect(byOutcome(SpanKind.CLIENT, 'cancelled').status.code).toBe(SpanStatusCode.ERROR);
    // The server obeyed its client: not a server error.
    expect(byOutcome(SpanKind.SERVER, 'cancelled').attributes['error.type']).toBe('ERR_CANCELLED');
    expect(byOutcome(SpanKind.SERVER, 'cancelled').status.code).toBe(SpanStatusCode.UNSET);
  });

  describe('through Nest', () => {
    const resources = useResources();

    @Injectable()
    class Wrap implements NestInterceptor {
      intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
        return next.handle().pipe(map((value: unknown) => ({ wrapped: value })));
      }
    }

    @Controller()
    class TracedController {
      @MessagePattern('traced')
      @UseInterceptors(Wrap)
      async traced(): Promise<string> {
        await new Promise((resolve) => setImmediate(resolve));
        const span = trace.getTracer('app').startSpan('inside.handler');
        span.end();
        return span.spanContext().traceId;
      }
    }

    @Module({ controllers: [TracedController], providers: [Wrap] })
    class TracedModule {}

    it('the handler runs in the extracted context through guards, pipes and interceptors', async () => {
      const { port } = await resources.microservice({ module: TracedModule });
      const client = resources.client(port);
      const reply = await firstValueFrom(client.send<{ wrapped: string }>('traced', {}));
      const clientSpan = telemetry.finished('traced').find((s) => s.kind === SpanKind.CLIENT)!;
      const serverSpan = await waitForSpan(telemetry, 'traced', SpanKind.SERVER);
      const [handlerSpan] = telemetry.finished('inside.handler');
      expect(reply.wrapped).toBe(clientSpan.spanContext().traceId);
      expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
      expect(handlerSpan!.parentSpanContext?.spanId).toBe(serverSpan.spanContext().spanId);
    });
  });
});

/** The finished span named `name` of `kind`, once the exporter has it (the other side may end a moment later). */
async function waitForSpan(telemetry: TelemetryHarness, name: string, kind: SpanKind) {
  for (;;) {
    const span = telemetry.finished(name).find((s) => s.kind === kind);
    if (span !== undefined) return span;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
