import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import type { ClientProxy } from '@nestjs/microservices';
import { config } from 'rxjs';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { NO_MESSAGE_HANDLER, type ProtosocketServer } from '../../../src/nest/index.js';
import { deferred, nextTurn } from '../../helpers/async.js';
import { codeOf } from '../../helpers/errors.js';
import { CapturingLogger } from '../fixtures/harness.js';
import { Probe } from '../fixtures/probe.js';
import { LONE_SURROGATE_PATTERN, ParityModule } from './parity.module.js';
import { transports, useParity } from './transports.js';

const tlsFixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/tls/${name}`, import.meta.url));

/** Resolves with what the call failed with (rejects if it succeeded). */
async function failureOf(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    (value) => Promise.reject(new Error(`expected a failure, got ${JSON.stringify(value)}`)),
    (err: unknown) => err,
  );
}

/** A Nest serializer that wraps every outgoing packet, and the deserializer that unwraps it: the same classes on both transports. */
class WrappingSerializer {
  wrapped = 0;
  serialize(packet: unknown): unknown {
    this.wrapped++;
    return { wrapped: packet };
  }
}
class UnwrappingDeserializer {
  unwrapped = 0;
  deserialize(value: unknown): unknown {
    const wrapper = value as { wrapped?: unknown } | null;
    if (wrapper === null || typeof wrapper !== 'object' || !('wrapped' in wrapper)) throw new Error(`not a wrapped packet: ${JSON.stringify(value)}`);
    this.unwrapped++;
    return wrapper.wrapped;
  }
}

describe.each(transports)('Transport.TCP parity: $name', (transport) => {
  const res = useParity(transport);
  const isTcp = transport.name === 'tcp';

  const connected = async (logger?: CapturingLogger): Promise<{ client: ClientProxy; probe: Probe; port: number }> => {
    const { app, port } = await res.app(ParityModule, { logger: logger ?? false });
    return { client: res.client(port), probe: app.get(Probe), port };
  };

  describe('error bodies pass through byte for byte (§1.3)', () => {
    it.each([
      ['RpcException(new Error("x"))', 'rpcExceptionOfError', {}],
      ['RpcException("x")', 'rpcExceptionOfString', { status: 'error', message: 'x' }],
      ['RpcException(object)', 'rpcExceptionOfObject', { code: 42, nested: { ok: true } }],
      ['RpcException(an Error with own fields)', 'rpcExceptionOfErrorWithFields', { code: 'E_FIELD', detail: 1 }],
      ['a plain Error (the default filter)', 'plain', { status: 'error', message: 'Internal server error' }],
    ])('%s', async (_name, kind, body) => {
      const { client } = await connected();
      expect(await failureOf(firstValueFrom(client.send('throw', kind)))).toStrictEqual(body);
    });

    it.each([
      ['throwError(() => new Error("x"))', 'error', {}],
      ['throwError(() => new RpcException("x"))', 'rpcException', { error: 'x', message: 'x' }],
    ])('a filter returning %s', async (_name, kind, body) => {
      const { client } = await connected();
      expect(await failureOf(firstValueFrom(client.send('filtered', kind)))).toStrictEqual(body);
    });

    it('a filter returning throwError(() => null): TCP completes silently (the error is lost); protosocket fails the call with null', async () => {
      const { client } = await connected();
      const outcome = lastValueFrom(client.send('filtered', 'null').pipe(toArray())).then(
        (values) => ({ completed: values }),
        (err: unknown) => ({ failed: err }),
      );
      expect(await outcome).toStrictEqual(isTcp ? { completed: [] } : { failed: null });
    });
  });

  it('send(null) fails with Nest\'s InvalidMessageException (§2, the public entry point)', async () => {
    const { client } = await connected();
    const error = await failureOf(firstValueFrom(client.send(null, 1)));
    expect((error as Error).constructor.name).toBe('InvalidMessageException');
  });

  it('close() then send() and connect() reconnect (§1.4)', async () => {
    const { client } = await connected();
    await expect(firstValueFrom(client.send('sum', [1, 2]))).resolves.toBe(3);
    await client.close();
    await expect(firstValueFrom(client.send('sum', [2, 3]))).resolves.toBe(5);
    // Not awaited, as Nest code calls it (Transport.TCP's close is synchronous).
    void client.close();
    await expect(firstValueFrom(client.send('sum', [3, 4]))).resolves.toBe(7);
    await client.close();
    await client.connect();
    await expect(firstValueFrom(client.send('sum', [4, 5]))).resolves.toBe(9);
  });

  it('send() to a pattern that only has an @EventPattern handler runs it and replies with its return value (§1.5)', async () => {
    const { client, probe } = await connected();
    await expect(firstValueFrom(client.send('event.only', 5))).resolves.toStrictEqual({ handledByEvent: 5 });
    await expect(probe.when('event.only')).resolves.toBe(5);
  });

  describe('serializer / deserializer options are honoured on both sides (§1.6)', () => {
    const setup = async () => {
      const server = { serializer: new WrappingSerializer(), deserializer: new UnwrappingDeserializer() };
      const client = { serializer: new WrappingSerializer(), deserializer: new UnwrappingDeserializer() };
      const { app, port } = await res.app(ParityModule, { server: { ...server } });
      return { server, client, proxy: res.client(port, { ...client }), probe: app.get(Probe) };
    };

    it('requests and replies travel wrapped, and are unwrapped on the other side', async () => {
      const { server, client, proxy } = await setup();
      await expect(firstValueFrom(proxy.send('sum', [1, 2, 3]))).resolves.toBe(6);
      expect(client.serializer.wrapped).toBe(1);
      expect(server.deserializer.unwrapped).toBe(1);
      expect(server.serializer.wrapped).toBeGreaterThanOrEqual(1);
      expect(client.deserializer.unwrapped).toBeGreaterThanOrEqual(1);
    });

    it('error bodies travel wrapped too, and arrive as the filter produced them', async () => {
      const { proxy } = await setup();
      expect(await failureOf(firstValueFrom(proxy.send('throw', 'rpcExceptionOfObject')))).toStrictEqual({ code: 42, nested: { ok: true } });
    });

    it('events travel wrapped', async () => {
      const { server, proxy, probe } = await setup();
      proxy.emit('event.only', { n: 1 });
      await expect(probe.when('event.only')).resolves.toStrictEqual({ n: 1 });
      expect(server.deserializer.unwrapped).toBe(1);
    });
  });

  it('a pattern with a lone surrogate: TCP round-trips it; protosocket refuses it at the client with ERR_INVALID_PATTERN (§1.7)', async () => {
    const { client } = await connected();
    const call = firstValueFrom(client.send(LONE_SURROGATE_PATTERN, 1));
    if (isTcp) {
      await expect(call).resolves.toBe('matched');
    } else {
      const error = await failureOf(call);
      expect(codeOf(error)).toBe('ERR_INVALID_PATTERN');
      expect((error as Error).name).toBe('InvalidPatternError');
      expect(codeOf(await failureOf(firstValueFrom(client.emit(LONE_SURROGATE_PATTERN, 1))))).toBe('ERR_INVALID_PATTERN');
    }
    await expect(firstValueFrom(client.send('sum', [1]))).resolves.toBe(1);
  });

  describe('a throw in user code never takes down other calls (§1.8)', () => {
    const original = config.onUnhandledError;
    afterEach(() => {
      config.onUnhandledError = original;
    });

    it('a subscriber whose next() throws: other calls in flight and later calls still answer', async () => {
      const reported = deferred<unknown>();
      config.onUnhandledError = (err) => reported.resolve(err);
      const { client } = await connected();
      await client.connect();
      const other = firstValueFrom(client.send('sum', [10, 20]));
      client.send('sum', [1]).subscribe({
        next: () => {
          throw new Error('subscriber bug');
        },
      });
      await expect(other).resolves.toBe(30);
      expect((await reported.promise) as Error).toHaveProperty('message', 'subscriber bug');
      await expect(firstValueFrom(client.send('sum', [2, 2]))).resolves.toBe(4);
    });
  });

  describe('logging (§3)', () => {
    it('a failing @EventPattern handler is logged once', async () => {
      const logger = new CapturingLogger();
      const { client } = await connected(logger);
      client.emit('event.fails', 1);
      await logger.whenError('event boom');
      // The handler's whole failure path has run by the time a later call on the same connection is answered.
      await expect(firstValueFrom(client.send('sum', [1]))).resolves.toBe(1);
      await nextTurn();
      expect(logger.errors.filter((line) => line.includes('event boom'))).toHaveLength(1);
    });

    it('a call its client gave up on is not logged as an error', async () => {
      const logger = new CapturingLogger();
      const { client, probe } = await connected(logger);
      const subscription = client.send('abortable', 1).subscribe({ error: () => {} });
      await probe.when('abortable.started');
      subscription.unsubscribe();
      if (isTcp) await firstValueFrom(client.send('release', 1));
      await probe.when('abortable.aborted');
      await expect(firstValueFrom(client.send('sum', [1]))).resolves.toBe(1);
      await nextTurn();
      expect(logger.errors).toEqual([]);
    });
  });

  it('tlsOptions (the Transport.TCP name) is honoured on both sides: the connection is TLS (§2)', async () => {
    const { port } = await res.app(ParityModule, { server: { tlsOptions: { key: tlsFixture('server.key'), cert: tlsFixture('server.crt') } } });
    const client = res.client(port, { tlsOptions: { ca: tlsFixture('ca.crt'), servername: 'localhost' } });
    await expect(firstValueFrom(client.send('sum', [20, 22]))).resolves.toBe(42);
  });

  it('2,000 distinct unknown 60 KiB patterns each fail with NO_MESSAGE_HANDLER, and none is kept by the route cache (issue 11 item 4)', async () => {
    const { app, port } = await res.app(ParityModule);
    const client = res.client(port);
    const filler = 'p'.repeat(60 * 1024);
    // Distinct lengths too: V8 hashes a string this long by its length alone, and the client's
    // pattern-bytes cache (rpc/wire) then degrades to a linear scan, which is not under test here.
    const pattern = (n: number): string => `${filler.slice(n)}${n}`;
    for (let batch = 0; batch < 2000; batch += 100) {
      const calls = Array.from({ length: 100 }, (_, i) => failureOf(firstValueFrom(client.send(pattern(batch + i), 1))));
      expect(new Set(await Promise.all(calls))).toEqual(new Set([NO_MESSAGE_HANDLER]));
    }
    if (!isTcp) {
      // The strategy's private caches, read through Nest's private reference to it.
      // Only unknown patterns reached this app: every cache must still be empty.
      const server = (app as unknown as { serverInstance: ProtosocketServer }).serverInstance as unknown as Record<string, { size: number }>;
      for (const name of ['routeCache', 'requestHandlers', 'eventHandlers']) expect({ [name]: server[name]?.size }).toEqual({ [name]: 0 });
    }
  });
});
