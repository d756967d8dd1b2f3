/**
 * (a) This transport through the full Nest pipeline: `ProtosocketServer` as the strategy of a
 * microservice built by NestFactory.createMicroservice, `ProtosocketClient` as the ClientProxy.
 */
import type { Server } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import { ProtosocketClient, ProtosocketServer } from '../../src/nest/index.js';
import { SERVER_MAX_CONCURRENT_CALLS } from '../lib/config.js';
import { COUNT, type Driver, type DriverClient, ECHO, STREAM } from '../lib/driver.js';
import { BenchAppModule } from '../lib/nest-app.js';

const HOST = '127.0.0.1';

export const driver: Driver = {
  async startServer(hooks, options, host) {
    const strategy = new ProtosocketServer({ host, port: 0, maxConcurrentCalls: SERVER_MAX_CONCURRENT_CALLS, codec: options.codec });
    const app = await NestFactory.createMicroservice(BenchAppModule.forRoot(hooks), { strategy, logger: false });
    await app.listen();
    const port = strategy.port;
    if (port === undefined) throw new Error('ProtosocketServer has no port after listen');
    return { port, netServer: strategy.unwrap<Server>(), close: () => app.close() };
  },

  connect: (port, options) => open(new ProtosocketClient({ host: HOST, port, reconnect: false, codec: options.codec })),
  // Balancer named although it is the default with several endpoints: the figures say p2c.
  connectMany: (endpoints, options) => open(new ProtosocketClient({ endpoints, balancer: 'p2c', reconnect: false, codec: options.codec })),
};

async function open(client: ProtosocketClient): Promise<DriverClient> {
  await client.connect();
  return {
    request(data, done) {
      let reply: unknown;
      client.send(ECHO, data).subscribe({
        next: (value) => (reply = value),
        error: (err: unknown) => done(err),
        complete: () => done(undefined, reply),
      });
    },
    stream(count, onItem, done) {
      client.send(STREAM, count).subscribe({ next: onItem, error: (err: unknown) => done(err), complete: () => done() });
    },
    emit(data) {
      // Completes once queued, or after the connection drained when it was over its high-water mark.
      return lastValueFrom(client.emit(COUNT, data), { defaultValue: undefined }).then(noop);
    },
    call: (data) => firstValueFrom(client.send(ECHO, data)),
    close: () => client.close(),
  };
}

function noop(): void {}
