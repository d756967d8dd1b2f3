import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Controller, Get, type INestApplication, Inject, Module } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { lastValueFrom } from 'rxjs';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { ProtosocketHealthIndicator } from 'nestjs-protosocket/health';
import { ProtosocketClient, ProtosocketServer } from '../../../src/nest/index.js';
import { RpcClient, RpcServer } from '../../../src/rpc/index.js';
import { deferred } from '../../helpers/async.js';
import { unusedPort } from '../../helpers/net.js';
import { TEST_CLIENT_OPTIONS, TEST_SERVER_OPTIONS, useResources } from '../fixtures/harness.js';

const QUOTES = Symbol('QUOTES');
const gate = { started: deferred(), release: deferred() };

@Controller()
class QuotesController {
  @MessagePattern('quotes.health')
  health(): string {
    return 'ok';
  }

  @MessagePattern('quotes.slow')
  async slow(): Promise<string> {
    gate.started.resolve();
    await gate.release.promise;
    return 'done';
  }
}

@Module({ controllers: [QuotesController] })
class QuotesModule {}

/** The health routes an application would write: liveness of a dependency, readiness of its own microservice. */
@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly protosocket: ProtosocketHealthIndicator,
    @Inject(QUOTES) private readonly quotes: ProtosocketClient,
    private readonly server: ProtosocketServer,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.protosocket.pingCheck('quotes', this.quotes, { timeoutMs: 1000 }),
      () => this.protosocket.pingCheck('quotes-handler', this.quotes, { pattern: 'quotes.health', timeoutMs: 1000 }),
    ]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.protosocket.readyCheck('protosocket', this.server)]);
  }
}

interface HealthBody {
  status: 'ok' | 'error';
  info: Record<string, { status: string; state: string; rttMs?: number }>;
  error: Record<string, { status: string; state: string; code?: string; message?: string }>;
}

/** A real HTTP application with TerminusModule and /health routes, fetched over HTTP. */
describe('ProtosocketHealthIndicator over HTTP', () => {
  const resources = useResources();

  /** An HTTP app hosting `server` as its microservice (hybrid), with a client of `quotesPort`. */
  async function httpApp(server: ProtosocketServer, quotesPort: () => number): Promise<{ app: INestApplication; url: string }> {
    const moduleRef = await Test.createTestingModule({
      imports: [TerminusModule.forRoot({ logger: false }), QuotesModule],
      controllers: [HealthController],
      providers: [
        ProtosocketHealthIndicator,
        { provide: ProtosocketServer, useValue: server },
        { provide: QUOTES, useFactory: () => new ProtosocketClient({ ...TEST_CLIENT_OPTIONS, port: quotesPort() }) },
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    app.connectMicroservice({ strategy: server }, { inheritAppConfig: true });
    resources.add(() => app.close());
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    return { app, url: `http://127.0.0.1:${port}/health` };
  }

  async function get(url: string): Promise<{ status: number; body: HealthBody }> {
    const response = await fetch(url);
    return { status: response.status, body: (await response.json()) as HealthBody };
  }

  it('up with the round-trip time, then down once the microservice it pings is stopped', async () => {
    const quotes = await resources.microservice({ module: QuotesModule });
    const { url } = await httpApp(new ProtosocketServer({ ...TEST_SERVER_OPTIONS }), () => quotes.port);

    const up = await get(url);
    expect(up.status).toBe(200);
    expect(up.body.status).toBe('ok');
    expect(up.body.info.quotes).toMatchObject({ status: 'up', state: 'connected' });
    expect(up.body.info.quotes?.rttMs).toEqual(expect.any(Number));
    expect(up.body.info['quotes-handler']).toMatchObject({ status: 'up', state: 'connected' });

    await quotes.app.close();
    const down = await get(url);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('error');
    expect(down.body.error.quotes).toMatchObject({ status: 'down' });
    expect(down.body.error.quotes?.code).toMatch(/^(ECONNREFUSED|ERR_CONNECTION_CLOSED)$/);
  });

  it('readiness turns down as soon as the server drains, while a call is still finishing', async () => {
    gate.started = deferred();
    gate.release = deferred();
    const server = new ProtosocketServer({ ...TEST_SERVER_OPTIONS, drainTimeoutMs: 5000 });
    // Readiness never calls the QUOTES client; it only needs a port to be built with.
    const unused = await unusedPort();
    const { url } = await httpApp(server, () => unused);
    const ready = await get(`${url}/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body.info.protosocket).toEqual({ status: 'up', state: 'listening' });

    const caller = resources.client(server.port);
    const call = lastValueFrom(caller.send('quotes.slow', {}));
    await gate.started.promise;
    const closed = server.close();
    const draining = await get(`${url}/ready`);
    expect(draining.status).toBe(503);
    expect(draining.body.error.protosocket).toEqual({ status: 'down', state: 'draining' });
    gate.release.resolve();
    await expect(call).resolves.toBe('done');
    await closed;
  });
});

describe('ProtosocketHealthIndicator', () => {
  const resources = useResources();

  async function indicator(): Promise<ProtosocketHealthIndicator> {
    const moduleRef = await Test.createTestingModule({ imports: [TerminusModule], providers: [ProtosocketHealthIndicator] }).compile();
    return moduleRef.get(ProtosocketHealthIndicator);
  }

  it('checks an RpcClient, or connection options with a client of its own, typed with no cast', async () => {
    const { port } = await resources.microservice({ module: QuotesModule });
    const health = await indicator();
    const rpc = new RpcClient({ port });
    resources.add(() => rpc.close());
    const fromRpc = await health.pingCheck('rpc', rpc);
    const rtt: number | undefined = fromRpc.rpc.rttMs;
    expect(fromRpc.rpc.status).toBe('up');
    expect(rtt).toEqual(expect.any(Number));
    const fromOptions = await health.pingCheck('direct', { host: '127.0.0.1', port });
    expect(fromOptions.direct).toMatchObject({ status: 'up', state: 'connected' });
  });

  it('readyCheck on an RpcServer: not_listening, listening, then draining from close()', async () => {
    const health = await indicator();
    const server = new RpcServer({ port: 0 });
    expect(health.readyCheck('rpc', server).rpc).toEqual({ status: 'down', state: 'not_listening' });
    await server.listen();
    expect(health.readyCheck('rpc', server).rpc).toEqual({ status: 'up', state: 'listening' });
    const closed = server.close();
    expect(health.readyCheck('rpc', server).rpc).toEqual({ status: 'down', state: 'draining' });
    await closed;
  });

  it('down with ERR_HEALTH_TIMEOUT when the pattern does not answer in time', async () => {
    gate.started = deferred();
    gate.release = deferred();
    const { port } = await resources.microservice({ module: QuotesModule });
    const health = await indicator();
    const client = resources.client(port);
    const result = await health.pingCheck('slow', client, { pattern: 'quotes.slow', timeoutMs: 50 });
    gate.release.resolve();
    expect(result.slow).toMatchObject({ status: 'down', state: 'connected', code: 'ERR_HEALTH_TIMEOUT' });
  });
});
