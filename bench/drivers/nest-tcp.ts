/**
 * (c) Nest's built-in TCP transport: `Transport.TCP` through NestFactory.createMicroservice,
 * `ClientTCP` from ClientProxyFactory.create. Payloads go through JSON, Buffers included
 * (they arrive as `{ type: 'Buffer', data: [...] }`), as they do in Nest.
 */
import { once } from 'node:events';
import type { AddressInfo, Server, Socket } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { ClientProxyFactory, type MicroserviceOptions, Transport } from '@nestjs/microservices';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import { COUNT, type Driver, ECHO, STREAM, requireJson } from '../lib/driver.js';
import { BenchAppModule } from '../lib/nest-app.js';

const HOST = '127.0.0.1';
/**
 * ClientTCP's `emit` has no backpressure: it writes to the socket whatever its state. Like a
 * careful user, the driver waits for `drain` once the socket holds more than this.
 */
const EMIT_HIGH_WATER_MARK = 1024 * 1024;

export const driver: Driver = {
  async startServer(hooks, options, host) {
    requireJson('nest-tcp', options);
    const app = await NestFactory.createMicroservice<MicroserviceOptions>(BenchAppModule.forRoot(hooks), {
      transport: Transport.TCP,
      options: { host, port: 0 },
      logger: false,
    });
    await app.listen();
    const netServer = app.unwrap<Server>();
    const port = (netServer.address() as AddressInfo).port;
    return { port, netServer, close: () => app.close() };
  },

  async connect(port, options) {
    requireJson('nest-tcp', options);
    const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: HOST, port } });
    await client.connect();
    const socket = client.unwrap<Socket>();
    // One shared wait for `drain`, however many emits are waiting on it.
    let drained: Promise<void> | undefined;
    const waitForDrain = (): Promise<void> => (drained ??= once(socket, 'drain').then(() => void (drained = undefined)));
    return {
      request(data, done) {
        let reply: unknown;
        client.send(ECHO, data).subscribe({
          next: (value: unknown) => (reply = value),
          error: (err: unknown) => done(err),
          complete: () => done(undefined, reply),
        });
      },
      stream(count, onItem, done) {
        client.send(STREAM, count).subscribe({ next: onItem, error: (err: unknown) => done(err), complete: () => done() });
      },
      emit(data) {
        return lastValueFrom(client.emit(COUNT, data), { defaultValue: undefined }).then(() =>
          socket.writableLength > EMIT_HIGH_WATER_MARK ? waitForDrain() : undefined,
        );
      },
      call: (data) => firstValueFrom(client.send(ECHO, data)),
      async close() {
        await client.close();
      },
    };
  },
};
