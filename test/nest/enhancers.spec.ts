import 'reflect-metadata';
import { type INestMicroservice, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { AppModule } from './fixtures/app.module.js';
import { FORBIDDEN_NUMBER, NumericStringsPipe, RejectThirteenGuard, TeapotFilter, WrapInterceptor } from './fixtures/enhancers.js';
import { useResources } from './fixtures/harness.js';
import { Probe } from './fixtures/probe.js';

/** The same four enhancers, bound as APP_* providers instead of with useGlobal*. */
@Module({
  imports: [AppModule],
  providers: [
    { provide: APP_GUARD, useClass: RejectThirteenGuard },
    { provide: APP_PIPE, useClass: NumericStringsPipe },
    { provide: APP_INTERCEPTOR, useClass: WrapInterceptor },
    { provide: APP_FILTER, useClass: TeapotFilter },
  ],
})
class AppProvidersModule {}

function useGlobals(app: INestMicroservice): void {
  app.useGlobalGuards(new RejectThirteenGuard(app.get(Probe)));
  app.useGlobalPipes(new NumericStringsPipe());
  app.useGlobalInterceptors(new WrapInterceptor());
  app.useGlobalFilters(new TeapotFilter());
}

const bindings = [
  { how: 'useGlobalGuards/Pipes/Interceptors/Filters on the microservice', module: AppModule, configure: useGlobals },
  { how: 'APP_GUARD/APP_PIPE/APP_INTERCEPTOR/APP_FILTER providers', module: AppProvidersModule, configure: undefined },
];

describe.each(bindings)('global enhancers via $how', ({ module, configure }) => {
  const res = useResources();

  const setup = () => res.connectedMicroservice({ module, configure });

  it('the guard runs on every call and a rejection arrives as Nest\'s Forbidden error', async () => {
    const { client, probe } = await setup();
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [1, FORBIDDEN_NUMBER]))).rejects.toEqual({
      status: 'error',
      message: 'Forbidden resource',
    });
    expect(probe.all('guard')).toEqual([[1, FORBIDDEN_NUMBER]]);
  });

  it('the pipe transforms the payload and the interceptor maps the result', async () => {
    const { client } = await setup();
    // Without the pipe the strings would concatenate ('0123'); without the interceptor the result would be bare.
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, ['1', '2', 3]))).resolves.toEqual({ wrapped: 6 });
  });

  it('the interceptor maps every value of a stream', async () => {
    const { client } = await setup();
    await expect(lastValueFrom(client.send({ cmd: 'streaming' }, [1, 2]).pipe(toArray()))).resolves.toEqual([{ wrapped: 1 }, { wrapped: 2 }]);
  });

  it('the custom filter answers the exception it catches with its throwError value', async () => {
    const { client } = await setup();
    await expect(firstValueFrom(client.send({ cmd: 'teapot' }, {}))).rejects.toEqual({ custom: true });
  });

  it('exceptions the custom filter does not catch still reach the default filter', async () => {
    const { client } = await setup();
    await expect(firstValueFrom(client.send({ cmd: 'rpcException' }, 'txt'))).rejects.toEqual({ status: 'error', message: 'txt' });
  });
});
