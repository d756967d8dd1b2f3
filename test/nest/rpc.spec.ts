import 'reflect-metadata';
import { RpcException } from '@nestjs/microservices';
import { firstValueFrom, lastValueFrom, take, tap, toArray } from 'rxjs';
import { NO_MESSAGE_HANDLER, ProtosocketClient } from '../../src/nest/index.js';
import { total } from './fixtures/app.controller.js';
import { turnsFor } from '../helpers/async.js';
import { CapturingLogger, TEST_CLIENT_OPTIONS, useResources } from './fixtures/harness.js';

/** Nest's own integration test client: errors arrive as RpcException instances. */
class ErrorHandlingProxy extends ProtosocketClient {
  protected override serializeError(err: unknown): unknown {
    return new RpcException(err as object);
  }
}

describe('ProtosocketServer + ProtosocketClient in a Nest microservice', () => {
  const res = useResources();

  const setup = () => res.connectedMicroservice();

  describe('request-response (Nest sum-rpc)', () => {
    it('answers {cmd:"sum"} with the sum', async () => {
      const { client } = await setup();
      await expect(firstValueFrom(client.send({ cmd: 'sum' }, [1, 2, 3, 4, 5]))).resolves.toBe(15);
    });

    it('answers from an async handler', async () => {
      const { client } = await setup();
      await expect(firstValueFrom(client.send({ cmd: 'asyncSum' }, [1, 2, 3, 4, 5]))).resolves.toBe(15);
    });

    it('delivers an Observable of one value as exactly one value', async () => {
      const { client } = await setup();
      await expect(lastValueFrom(client.send({ cmd: 'streamSum' }, [1, 2, 3, 4, 5]).pipe(toArray()))).resolves.toEqual([15]);
    });

    it('delivers every value of an Observable of many, in order', async () => {
      const { client } = await setup();
      const data = [5, 1, 4, 2, 3, 9, 0];
      await expect(lastValueFrom(client.send({ cmd: 'streaming' }, data).pipe(toArray()))).resolves.toEqual(data);
    });

    it('streams what an async generator handler yields, in order', async () => {
      const { client, probe } = await setup();
      await expect(lastValueFrom(client.send<number>('countdown', 5).pipe(toArray()))).resolves.toEqual([5, 4, 3, 2, 1]);
      await probe.when('countdown.finally');
    });

    it('streams an async generator handler through an interceptor too (Nest wraps it as one value)', async () => {
      const ms = await res.microservice({
        configure: (app) => app.useGlobalInterceptors({ intercept: (_context, next) => next.handle().pipe(tap(() => {})) }),
      });
      const client = res.client(ms.port);
      await expect(lastValueFrom(client.send<number>('countdown', 3).pipe(toArray()))).resolves.toEqual([3, 2, 1]);
    });

    it('stops pulling an async generator handler when the client unsubscribes', async () => {
      const { client, probe } = await setup();
      await expect(lastValueFrom(client.send<number>('countdown', 1_000_000).pipe(take(3), toArray()))).resolves.toEqual([
        1_000_000, 999_999, 999_998,
      ]);
      await probe.when('countdown.finally');
      const pulled = probe.count('countdown.pulled');
      expect(pulled).toBeLessThan(1_000_000);
      await turnsFor(20);
      expect(probe.count('countdown.pulled')).toBe(pulled);
    });

    it('matches 10 concurrent calls each to its own reply', async () => {
      const { client } = await setup();
      const inputs = Array.from({ length: 10 }, (_, i) => Array.from({ length: 10 }, (_, j) => i * 10 + j));
      const sums = await Promise.all(inputs.map((data) => firstValueFrom(client.send<number>({ cmd: 'sum' }, data))));
      expect(sums).toEqual(inputs.map(total));
    });

    it('fails an unknown pattern with exactly Nest\'s "no matching message handler" string', async () => {
      const { client } = await setup();
      const error = await firstValueFrom(client.send({ cmd: 'nope' }, [1])).catch((err: unknown) => err);
      expect(error).toBe('There is no matching message handler defined in the remote service.');
      expect(error).toBe(NO_MESSAGE_HANDLER);
    });

    it('completes without a value when the handler returns undefined (as Nest TCP does)', async () => {
      const { client } = await setup();
      await expect(lastValueFrom(client.send('nothing', {}).pipe(toArray()))).resolves.toEqual([]);
    });

    it('round trips a Buffer payload as a Buffer with the same bytes', async () => {
      const { client } = await setup();
      const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x7b, 0x22]);
      const echoed = await firstValueFrom(client.send<Buffer>('echo', bytes));
      expect(Buffer.isBuffer(echoed)).toBe(true);
      expect(echoed.equals(bytes)).toBe(true);
    });
  });

  describe('events', () => {
    it('delivers client.emit to the @EventPattern handler', async () => {
      const { client, probe } = await setup();
      await lastValueFrom(client.emit('notification', { ok: true }), { defaultValue: undefined });
      await expect(probe.when('notification.first')).resolves.toEqual({ ok: true });
    });

    it('runs both handlers registered for the same event pattern (Nest chains them)', async () => {
      const { client, probe } = await setup();
      client.emit('notification', 42);
      await expect(Promise.all([probe.when('notification.first'), probe.when('notification.second')])).resolves.toEqual([42, 42]);
      expect(probe.count('notification.first')).toBe(1);
      expect(probe.count('notification.second')).toBe(1);
    });
  });

  describe('errors through the default RPC exception filter', () => {
    it('RpcException("txt") arrives as {status:"error", message:"txt"}', async () => {
      const { client } = await setup();
      await expect(firstValueFrom(client.send({ cmd: 'rpcException' }, 'txt'))).rejects.toEqual({ status: 'error', message: 'txt' });
    });

    it('RpcException(object) arrives as that object', async () => {
      const { client } = await setup();
      await expect(firstValueFrom(client.send({ cmd: 'rpcException' }, { code: 42 }))).rejects.toEqual({ code: 42 });
    });

    it('a plain Error arrives as {status:"error", message:"Internal server error"}', async () => {
      const { client } = await setup();
      await expect(firstValueFrom(client.send({ cmd: 'plainError' }, {}))).rejects.toEqual({ status: 'error', message: 'Internal server error' });
    });

    it('the connection stays usable after an error reply', async () => {
      const { client } = await setup();
      await expect(firstValueFrom(client.send({ cmd: 'plainError' }, {}))).rejects.toBeDefined();
      await expect(firstValueFrom(client.send({ cmd: 'sum' }, [2, 2]))).resolves.toBe(4);
    });

    it('a client overriding serializeError gets RpcException instances; the standard client does not', async () => {
      const { port, client: standard } = await setup();
      const custom = res.track(new ErrorHandlingProxy({ ...TEST_CLIENT_OPTIONS, port }));

      const customError = await firstValueFrom(custom.send({ cmd: 'rpcException' }, 'txt')).catch((err: unknown) => err);
      expect(customError).toBeInstanceOf(RpcException);
      expect((customError as RpcException).getError()).toEqual({ status: 'error', message: 'txt' });

      const standardError = await firstValueFrom(standard.send({ cmd: 'rpcException' }, 'txt')).catch((err: unknown) => err);
      expect(standardError).not.toBeInstanceOf(RpcException);
    });
  });

  describe('server-side logging (the app logger, not the client, hears of these)', () => {
    it('an unknown error is logged by the default RPC exception filter', async () => {
      const logger = new CapturingLogger();
      const { port } = await res.microservice({ logger });
      const client = res.client(port);
      await expect(firstValueFrom(client.send({ cmd: 'plainError' }, {}))).rejects.toEqual({ status: 'error', message: 'Internal server error' });
      await expect(logger.whenError('boom')).resolves.toContain('boom');
    });

    it('an event nobody handles is logged with Nest\'s "no matching event handler" message', async () => {
      const logger = new CapturingLogger();
      const { port } = await res.microservice({ logger });
      const client = res.client(port);
      client.emit('nobody.listens', 1);
      await expect(logger.whenError('There is no matching event handler defined in the remote service.')).resolves.toContain(
        'Event pattern: nobody.listens',
      );
    });
  });
});
