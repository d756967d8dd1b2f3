import type { AddressInfo } from 'node:net';
import type net from 'node:net';
import type { INestMicroservice, LoggerService, Type } from '@nestjs/common';
import { type ClientProxy, ClientProxyFactory, type MicroserviceOptions, Transport } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { ProtosocketClient, ProtosocketServer } from '../../../src/nest/index.js';
import { Cleanup } from '../../helpers/cleanup.js';

/**
 * The Transport.TCP control and this transport, built the way a Nest user builds each: the
 * same app module, the same client calls. A parity spec runs `describe.each(transports)` and
 * asserts the same thing against both; where this transport deliberately differs (the README's
 * "Where it differs"), the test names it and asserts each side's behaviour.
 */
export interface TransportUnderTest {
  readonly name: 'tcp' | 'protosocket';
  /** What `createNestMicroservice` takes, listening on 127.0.0.1 and a free port. `options` are the transport's (TCP names for both). */
  microservice(options?: Record<string, unknown>): MicroserviceOptions;
  /** A client as ClientsModule builds it (`transport: Transport.TCP`, or `customClass: ProtosocketClient`). */
  client(port: number, options?: Record<string, unknown>): ClientProxy;
}

export const tcp: TransportUnderTest = {
  name: 'tcp',
  microservice: (options = {}) => ({ transport: Transport.TCP, options: { host: '127.0.0.1', port: 0, ...options } }) as MicroserviceOptions,
  client: (port, options = {}) => ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port, ...options } }),
};

export const protosocket: TransportUnderTest = {
  name: 'protosocket',
  // Short drain and close timeouts keep a test that leaves a call running from waiting out the production ones.
  microservice: (options = {}) => ({ strategy: new ProtosocketServer({ host: '127.0.0.1', port: 0, drainTimeoutMs: 500, ...options }) }),
  client: (port, options = {}) =>
    ClientProxyFactory.create({ customClass: ProtosocketClient, options: { host: '127.0.0.1', port, closeTimeoutMs: 200, ...options } }),
};

export const transports: readonly TransportUnderTest[] = [tcp, protosocket];

export interface ParityApp {
  app: INestMicroservice;
  port: number;
}

/** A Resources for parity specs: apps and clients of either transport, closed after each test. */
export class ParityResources extends Cleanup {
  constructor(private readonly transport: TransportUnderTest) {
    super();
  }

  async app(module: Type, options: { server?: Record<string, unknown>; logger?: LoggerService | false } = {}): Promise<ParityApp> {
    const moduleRef = await Test.createTestingModule({ imports: [module] }).compile();
    const app = moduleRef.createNestMicroservice({ ...this.transport.microservice(options.server), logger: options.logger ?? false });
    this.add(() => app.close());
    await app.listen();
    const port = (app.unwrap<net.Server>().address() as AddressInfo).port;
    return { app, port };
  }

  client(port: number, options?: Record<string, unknown>): ClientProxy {
    const client = this.transport.client(port, options);
    this.add(() => client.close() as unknown);
    return client;
  }
}

/** A ParityResources for `transport`, cleaned up after each test of the calling describe block. */
export function useParity(transport: TransportUnderTest): ParityResources {
  const resources = new ParityResources(transport);
  afterEach(() => resources.run());
  return resources;
}
