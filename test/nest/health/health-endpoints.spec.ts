import 'reflect-metadata';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Inject, Module } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { ProtosocketHealthIndicator, type ProtosocketEndpointHealth } from 'nestjs-protosocket/health';
import { ProtosocketClient } from '../../../src/nest/index.js';
import { RpcClient, RpcServer } from '../../../src/rpc/index.js';
import { msgpackCodec } from '../../../src/rpc/wire/msgpack-codec.js';
import { within } from '../../helpers/async.js';
import { useResources } from '../fixtures/harness.js';

const QUOTES = Symbol('QUOTES');

@Controller()
class QuotesController {
  @MessagePattern('quotes.health')
  health(): string {
    return 'ok';
  }
}

@Module({ controllers: [QuotesController] })
class QuotesModule {}

/** The same dependency checked two ways: up if one endpoint answers (the default), and up only if all do. */
@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly protosocket: ProtosocketHealthIndicator,
    @Inject(QUOTES) private readonly quotes: ProtosocketClient,
  ) {}

  @Get()
  @HealthCheck()
  any() {
    return this.health.check([() => this.protosocket.pingCheck('quotes', this.quotes, { timeoutMs: 1000 })]);
  }

  @Get('all')
  @HealthCheck()
  all() {
    return this.health.check([() => this.protosocket.pingCheck('quotes', this.quotes, { timeoutMs: 1000, requireAll: true })]);
  }
}

interface QuotesHealth {
  status: 'up' | 'down';
  state: string;
  rttMs?: number;
  code?: string;
  endpoints: ProtosocketEndpointHealth[];
}

interface HealthBody {
  status: 'ok' | 'error';
  info: Record<string, QuotesHealth>;
  error: Record<string, QuotesHealth>;
}

async function get(url: string): Promise<{ status: number; body: HealthBody }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as HealthBody };
}

/** Resolves once `client` reports a refused connection attempt to `endpoint`: its connection there is then in transient_failure. */
function refused(client: RpcClient, endpoint: string): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      const onError = (err: Error): void => {
        if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || !err.message.includes(endpoint)) return;
        client.off('error', onError);
        resolve();
      };
      client.on('error', onError);
    }),
    5000,
    `a refused connection to ${endpoint}`,
  );
}

const answered = (endpoint: string) => ({ endpoint, state: 'ready', rttMs: expect.any(Number) });
const refusedAt = (endpoint: string) => ({ endpoint, state: 'transient_failure', code: 'ECONNREFUSED', error: expect.stringContaining('ECONNREFUSED') });

/** A real HTTP app with TerminusModule, checking a client of two servers (127.0.0.1 and 127.0.0.2) over HTTP. */
describe('pingCheck on every endpoint of a client', () => {
  const resources = useResources();

  it('up with both endpoints and their rtt; one stopped: up, or down with requireAll; both stopped: down', async () => {
    const first = await resources.microservice({ module: QuotesModule, server: { host: '127.0.0.1' } });
    const second = await resources.microservice({ module: QuotesModule, server: { host: '127.0.0.2' } });
    const a = `127.0.0.1:${first.port}`;
    const b = `127.0.0.2:${second.port}`;
    const quotes = resources.track(new ProtosocketClient({ endpoints: [a, b], closeTimeoutMs: 200 }));
    const rpc = quotes.unwrap<RpcClient>();

    const moduleRef = await Test.createTestingModule({
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers: [ProtosocketHealthIndicator, { provide: QUOTES, useValue: quotes }],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    resources.add(() => app.close());
    await app.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/health`;

    // Never connected before: the check connects both endpoints and pings each.
    const up = await get(url);
    expect(up.status).toBe(200);
    expect(up.body.info.quotes).toMatchObject({ status: 'up', state: 'connected', rttMs: expect.any(Number) });
    expect(up.body.info.quotes?.endpoints).toEqual([answered(a), answered(b)]);
    expect((await get(`${url}/all`)).status).toBe(200);

    const secondRefused = refused(rpc, b);
    await second.app.close();
    await secondRefused;
    const oneDown = await get(url);
    expect(oneDown.status).toBe(200);
    expect(oneDown.body.info.quotes).toMatchObject({ status: 'up', state: 'connected', rttMs: expect.any(Number) });
    expect(oneDown.body.info.quotes?.endpoints).toEqual([answered(a), refusedAt(b)]);
    const all = await get(`${url}/all`);
    expect(all.status).toBe(503);
    expect(all.body.error.quotes).toMatchObject({ status: 'down', code: 'ECONNREFUSED', rttMs: expect.any(Number) });
    expect(all.body.error.quotes?.endpoints).toEqual([answered(a), refusedAt(b)]);

    const firstRefused = refused(rpc, a);
    await first.app.close();
    await firstRefused;
    const down = await get(url);
    expect(down.status).toBe(503);
    expect(down.body.error.quotes).toMatchObject({ status: 'down', state: 'disconnected', code: 'ECONNREFUSED' });
    expect(down.body.error.quotes?.rttMs).toBeUndefined();
    expect(down.body.error.quotes?.endpoints).toEqual([refusedAt(a), refusedAt(b)]);
  });
});

describe('pingCheck on every endpoint, without HTTP', () => {
  const resources = useResources();

  async function indicator(): Promise<ProtosocketHealthIndicator> {
    const moduleRef = await Test.createTestingModule({ imports: [TerminusModule], providers: [ProtosocketHealthIndicator] }).compile();
    return moduleRef.get(ProtosocketHealthIndicator);
  }

  it('an endpoint that accepts but never answers is reported with ERR_HEALTH_TIMEOUT, within the one timeout', async () => {
    const { port } = await resources.microservice({ module: QuotesModule });
    const silent = net.createServer(() => {});
    const sockets = new Set<net.Socket>();
    silent.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.2', resolve));
    resources.add(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(() => resolve());
        }),
    );
    const silentPort = (silent.address() as AddressInfo).port;
    const health = await indicator();

    const result = await health.pingCheck('mixed', { endpoints: [`127.0.0.1:${port}`, `127.0.0.2:${silentPort}`] }, { timeoutMs: 100 });
    expect(result.mixed).toMatchObject({ status: 'up', state: 'connected' });
    expect(result.mixed.endpoints).toEqual([
      answered(`127.0.0.1:${port}`),
      { endpoint: `127.0.0.2:${silentPort}`, state: 'ready', code: 'ERR_HEALTH_TIMEOUT', error: 'no answer within 100 ms' },
    ]);

    const strict = await health.pingCheck('mixed', { endpoints: [`127.0.0.1:${port}`, `127.0.0.2:${silentPort}`] }, { timeoutMs: 100, requireAll: true });
    expect(strict.mixed).toMatchObject({ status: 'down', code: 'ERR_HEALTH_TIMEOUT' });
  });

  it('under the protosocket-rpc profile a Ping is impossible: down saying a pattern is needed; with a pattern, up', async () => {
    const profile = { protocol: 'protosocket-rpc', codec: msgpackCodec } as const;
    const server = new RpcServer({ host: '127.0.0.1', port: 0, ...profile }).handle('quotes.health', () => 'ok');
    await server.listen();
    resources.add(() => server.close());
    const client = new RpcClient({ host: '127.0.0.1', port: server.port, ...profile, closeTimeoutMs: 200 });
    resources.add(() => client.close());
    const health = await indicator();

    const ping = await health.pingCheck('legacy', client);
    expect(ping.legacy).toMatchObject({ status: 'down', code: 'ERR_UNSUPPORTED_BY_PROFILE', endpoints: [] });
    expect(ping.legacy.message).toMatch(/protosocket-rpc protocol has no Ping: give a `pattern`/);

    const call = await health.pingCheck('legacy', client, { pattern: 'quotes.health' });
    expect(call.legacy).toMatchObject({ status: 'up', state: 'connected' });
    expect(call.legacy.endpoints).toEqual([answered(`127.0.0.1:${server.port}`)]);
  });
});
