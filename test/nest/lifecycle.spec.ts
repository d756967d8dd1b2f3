import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import net from 'node:net';
import { firstValueFrom } from 'rxjs';
import { ProtosocketServer, ServerStateError } from '../../src/nest/index.js';
import { AppModule } from './fixtures/app.module.js';
import { nextTurn, turnsFor } from '../helpers/async.js';
import { unusedPort } from '../helpers/net.js';
import { TEST_SERVER_OPTIONS, statusReached, useResources } from './fixtures/harness.js';
import { Probe } from './fixtures/probe.js';

describe('connection and server lifecycle', () => {
  const res = useResources();

  it('a client with no server errors with ECONNREFUSED instead of hanging', async () => {
    const client = res.client(await unusedPort(), { reconnect: false });
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [1]))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('reconnects after the server restarts on the same port', async () => {
    const first = await res.microservice();
    const port = first.server.port as number;
    const client = res.client(port);
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [1, 2]))).resolves.toBe(3);

    await first.app.close();
    // Down: calls fail, they do not hang.
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [1, 2]))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // It lost an established connection, so it keeps trying in the background rather than going idle.
    await statusReached(client.status, 'disconnected');

    const second = await res.microservice({ server: { port } });
    expect(second.port).toBe(port);
    await statusReached(client.status, 'connected');
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [3, 4]))).resolves.toBe(7);
  });

  it('app.close() with a handler running tears it down and fails the pending call', async () => {
    const { app, port } = await res.microservice({ server: { drainTimeoutMs: 200 } });
    const probe = app.get(Probe);
    const client = res.client(port);
    const outcome = new Promise<unknown>((resolve, reject) => {
      client.send('ticks', {}).subscribe({ error: resolve, complete: () => reject(new Error('completed instead of failing')) });
    });
    await probe.when('ticks.tick');

    await app.close();
    // By the time close resolves the handler is gone: torn down, signal aborted, no more ticks.
    expect(probe.count('ticks.finalized')).toBe(1);
    expect(probe.count('ticks.aborted')).toBe(1);
    const ticks = probe.count('ticks.tick');
    await turnsFor(20);
    expect(probe.count('ticks.tick')).toBe(ticks);

    await expect(outcome).resolves.toMatchObject({ code: 'ERR_SHUTTING_DOWN' });
  });

  it('app.close() lets a call in flight finish within the drain timeout', async () => {
    const { app, port } = await res.microservice({ server: { drainTimeoutMs: 2000 } });
    const probe = app.get(Probe);
    const client = res.client(port);
    const reply = firstValueFrom(client.send('gated', 'done'));
    const open = await probe.when<() => void>('gated.entered');

    let closedYet = false;
    const closed = app.close().then(() => (closedYet = true));
    await nextTurn(); // close is under way (GoAway sent, no new connections) and waiting for the call
    expect(closedYet).toBe(false);
    open();
    await expect(reply).resolves.toBe('done');
    await closed;
  });

  it('a second server on a port in use makes listen() reject with EADDRINUSE', async () => {
    const { port } = await res.microservice();
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const second = new ProtosocketServer({ ...TEST_SERVER_OPTIONS, port });
    const app = moduleRef.createNestMicroservice({ strategy: second, logger: false });
    res.add(() => app.close());
    await expect(app.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await expect(firstValueFrom(second.status)).resolves.toBe('disconnected');
  });

  it('a hybrid app whose microservice port is in use fails startAllMicroservices() with EADDRINUSE', async () => {
    const { port } = await res.microservice();
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    res.add(() => app.close());
    app.connectMicroservice({ strategy: new ProtosocketServer({ ...TEST_SERVER_OPTIONS, port }) });
    await expect(app.startAllMicroservices()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('a hybrid app (HTTP app + connectMicroservice) serves calls and app.close() closes the server', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    res.add(() => app.close());
    const server = new ProtosocketServer(TEST_SERVER_OPTIONS);
    app.connectMicroservice({ strategy: server });
    await app.startAllMicroservices();
    await app.init();

    const client = res.client(server.port, { reconnect: false });
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [1, 2, 3, 4, 5]))).resolves.toBe(15);

    const netServer = server.unwrap<net.Server>();
    await app.close();
    expect(netServer.listening).toBe(false);
    await expect(firstValueFrom(server.status)).resolves.toBe('disconnected');
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [1]))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('NestFactory.createMicroservice with the strategy: status, unwrap() and on()', async () => {
    const server = new ProtosocketServer(TEST_SERVER_OPTIONS);
    const statuses: string[] = [];
    const subscription = server.status.subscribe((status) => statuses.push(status));
    res.add(() => subscription.unsubscribe());
    const connections: net.Socket[] = [];
    const errors: unknown[] = [];
    // Registered before listen: queued, then attached to the net.Server / RPC server.
    server.on('connection', (socket: net.Socket) => connections.push(socket));
    server.on('error', (err: unknown) => errors.push(err));
    expect(() => server.unwrap()).toThrow(ServerStateError);

    const app = await NestFactory.createMicroservice(AppModule, { strategy: server, logger: false });
    res.add(() => app.close());
    await app.listen();
    expect(statuses).toEqual(['connected']);
    expect(server.unwrap()).toBeInstanceOf(net.Server);
    expect(server.unwrap<net.Server>().address()).toMatchObject({ address: '127.0.0.1', port: server.port });
    // Also accepted once listening.
    server.on('error', (err: unknown) => errors.push(err));

    const client = res.client(server.port);
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [1, 2, 3, 4, 5]))).resolves.toBe(15);
    expect(connections).toHaveLength(1);

    await client.close();
    await app.close();
    expect(statuses).toEqual(['connected', 'disconnected']);
    expect(errors).toEqual([]);
  });
});
