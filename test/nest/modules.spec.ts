import 'reflect-metadata';
import { type DynamicModule, Inject, Injectable, Module } from '@nestjs/common';
import { LazyModuleLoader } from '@nestjs/core';
import { type ClientProxy, ClientsModule } from '@nestjs/microservices';
import { Test, type TestingModule } from '@nestjs/testing';
import { firstValueFrom } from 'rxjs';
import {
  PROTOSOCKET_CODEC,
  ProtosocketClient,
  ProtosocketModule,
  ProtosocketServer,
} from '../../src/nest/index.js';
import { AppModule } from './fixtures/app.module.js';
import { CountingCodec } from './fixtures/codecs.js';
import { type Resources, TEST_CLIENT_OPTIONS, TEST_SERVER_OPTIONS, useResources } from './fixtures/harness.js';

const PRICES = 'PRICES';
const CONFIG = Symbol('CONFIG');

interface Config {
  port: number;
}

/** A consumer of an injected client, as application code would have it. */
@Injectable()
class PriceService {
  constructor(@Inject(PRICES) private readonly client: ClientProxy) {}

  total(prices: number[]): Promise<number> {
    return firstValueFrom(this.client.send<number>({ cmd: 'sum' }, prices));
  }
}

@Module({})
class ConfigModule {
  static forPort(port: number): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: CONFIG, useValue: { port } satisfies Config }], exports: [CONFIG] };
  }
}

/** Compiles a client-side module (its own app context), closed after the test. */
async function clientSide(res: Resources, imports: NonNullable<Parameters<typeof Test.createTestingModule>[0]['imports']>, providers: Parameters<typeof Test.createTestingModule>[0]['providers'] = []): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({ imports, providers }).compile();
  res.add(() => moduleRef.close());
  await moduleRef.init();
  return moduleRef;
}

describe('registering and injecting clients', () => {
  const res = useResources();

  it('ClientsModule.register with customClass: ProtosocketClient, injected with @Inject', async () => {
    const { port } = await res.microservice();
    const moduleRef = await clientSide(
      res,
      [ClientsModule.register([{ name: PRICES, customClass: ProtosocketClient, options: { ...TEST_CLIENT_OPTIONS, port } }])],
      [PriceService],
    );
    expect(moduleRef.get(PRICES)).toBeInstanceOf(ProtosocketClient);
    await expect(moduleRef.get(PriceService).total([1, 2, 3, 4, 5])).resolves.toBe(15);

    // Closing the app closes the client (ClientsModule's shutdown hook).
    const client = moduleRef.get<ProtosocketClient>(PRICES);
    await moduleRef.close();
    await expect(firstValueFrom(client.status)).resolves.toBe('closed');
  });

  it('ClientsModule.registerAsync with useFactory', async () => {
    const { port } = await res.microservice();
    const moduleRef = await clientSide(
      res,
      [
        ClientsModule.registerAsync([
          {
            name: PRICES,
            imports: [ConfigModule.forPort(port)],
            inject: [CONFIG],
            useFactory: (config: Config) => ({ customClass: ProtosocketClient, options: { ...TEST_CLIENT_OPTIONS, port: config.port } }),
          },
        ]),
      ],
      [PriceService],
    );
    await expect(moduleRef.get(PriceService).total([10, 20])).resolves.toBe(30);
  });

  it('ProtosocketModule.registerClient: injectable by its name and by the ProtosocketClient class', async () => {
    const { port } = await res.microservice();
    const moduleRef = await clientSide(res, [ProtosocketModule.registerClient({ name: 'QUOTES', ...TEST_CLIENT_OPTIONS, port })]);
    const byName = moduleRef.get<ProtosocketClient>('QUOTES');
    expect(byName).toBeInstanceOf(ProtosocketClient);
    expect(moduleRef.get(ProtosocketClient)).toBe(byName);
    await expect(firstValueFrom(byName.send({ cmd: 'sum' }, [2, 3]))).resolves.toBe(5);

    // The client's own shutdown hook closes it with the app.
    await moduleRef.close();
    await expect(firstValueFrom(byName.status)).resolves.toBe('closed');
  });

  it('ProtosocketModule.registerClientAsync with useFactory, inject and imports', async () => {
    const { port } = await res.microservice();
    const moduleRef = await clientSide(res, [
      ProtosocketModule.registerClientAsync({
        name: 'QUOTES',
        imports: [ConfigModule.forPort(port)],
        inject: [CONFIG],
        useFactory: (config: Config) => ({ ...TEST_CLIENT_OPTIONS, port: config.port }),
      }),
    ]);
    const client = moduleRef.get<ProtosocketClient>('QUOTES');
    expect(moduleRef.get(ProtosocketClient)).toBe(client);
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [4, 5]))).resolves.toBe(9);
  });
});

describe('the codec as a DI provider', () => {
  const res = useResources();

  it('the forRoot provider serves both the container-built server and a registered client', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ProtosocketModule.forRoot({
          codec: { useClass: CountingCodec },
          server: TEST_SERVER_OPTIONS,
        }),
        AppModule,
      ],
    }).compile();
    const server = moduleRef.get(ProtosocketServer);
    const app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
    res.add(() => app.close());
    await app.listen();
    expect(app.get(ProtosocketServer)).toBe(server);

    // The client joins the same container once the port is known (a lazily loaded module
    // resolves the global codec provider like any other).
    const clientModule = await app.get(LazyModuleLoader).load(() =>
      ProtosocketModule.registerClient({ name: 'QUOTES', ...TEST_CLIENT_OPTIONS, port: server.port }),
    );
    const client = res.track(clientModule.get<ProtosocketClient>('QUOTES'));
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [1, 2, 3]))).resolves.toBe(6);

    const codec = app.get<CountingCodec>(PROTOSOCKET_CODEC);
    expect(codec).toBeInstanceOf(CountingCodec);
    const request = { pattern: '{"cmd":"sum"}', data: [1, 2, 3] };
    const reply = { pattern: undefined, data: 6 };
    // Client encodes the request, server decodes it; server encodes the reply, client decodes it.
    expect(codec.encoder.frames).toEqual(expect.arrayContaining([request, reply]));
    expect(codec.decoder.frames).toEqual(expect.arrayContaining([request, reply]));
  });

  it('overrideProvider(PROTOSOCKET_CODEC) in a testing module replaces the server\'s codec', async () => {
    const countingCodec = new CountingCodec();
    const moduleRef = await Test.createTestingModule({ imports: [ProtosocketModule.forRoot({ server: TEST_SERVER_OPTIONS }), AppModule] })
      .overrideProvider(PROTOSOCKET_CODEC)
      .useValue(countingCodec)
      .compile();
    const server = moduleRef.get(ProtosocketServer);
    const app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
    res.add(() => app.close());
    await app.listen();

    const client = res.client(server.port);
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [7, 8]))).resolves.toBe(15);
    expect(app.get(PROTOSOCKET_CODEC)).toBe(countingCodec);
    expect(countingCodec.encoder.frames).toContainEqual({ pattern: undefined, data: 15 });
    expect(countingCodec.decoder.frames).toContainEqual({ pattern: '{"cmd":"sum"}', data: [7, 8] });
  });
});
