/** (b) This transport's RPC API, without Nest: `RpcServer` handlers and an `RpcClient`. */
import { type CallObserver, RpcClient, type RpcClientSettings, RpcServer } from '../../src/rpc/index.js';
import { SERVER_MAX_CONCURRENT_CALLS } from '../lib/config.js';
import { COUNT, type Done, type Driver, type DriverClient, type DriverOptions, ECHO, STREAM } from '../lib/driver.js';

const HOST = '127.0.0.1';

export const driver: Driver = {
  async startServer(hooks, options, host) {
    const server = new RpcServer({ host, port: 0, drainTimeoutMs: 1_000, codec: options.codec, maxConcurrentCalls: SERVER_MAX_CONCURRENT_CALLS });
    server.handle(ECHO, (data) => {
      hooks.request();
      return data;
    });
    // A pulled stream: the server takes the next item only while the connection has room.
    server.handle(STREAM, (count) => generate(hooks.streamItems(count as number)));
    server.handleEvent(COUNT, () => hooks.event());
    await server.listen();
    const port = server.port;
    if (port === undefined) throw new Error('RpcServer has no port after listen');
    return { port, netServer: server.unwrap(), close: () => server.close() };
  },

  connect: (port, options) => open(new RpcClient({ host: HOST, port, ...clientSettings(options) })),
  // Balancer named although it is the default with several endpoints: the figures say p2c.
  connectMany: (endpoints, options) => open(new RpcClient({ endpoints, balancer: 'p2c', ...clientSettings(options) })),
};

function clientSettings(options: DriverOptions): RpcClientSettings {
  return { reconnect: false, closeTimeoutMs: 1_000, codec: options.codec };
}

async function open(client: RpcClient): Promise<DriverClient> {
  await client.connect();
  return {
    // The observer form of the API: as callback-based as the raw net reference, one object per call.
    request(data, done) {
      client.open(ECHO, data, new EchoObserver(done));
    },
    stream(count, onItem, done) {
      client.open(STREAM, count, { next: onItem, error: (err) => done(err), complete: () => done() });
    },
    emit(data) {
      return client.sendEvent(COUNT, data);
    },
    // The forms a user writes: a promise per call, an async iterator per stream.
    call: (data) => client.call(ECHO, data),
    async iterate(count, onItem) {
      for await (const _item of client.stream(STREAM, count)) onItem();
    },
    close: () => client.close(),
  };
}

class EchoObserver implements CallObserver {
  private reply: unknown = undefined;

  constructor(private readonly done: Done) {}

  next(value: unknown): void {
    this.reply = value;
  }

  error(err: Error): void {
    this.done(err);
  }

  complete(): void {
    // Let go of the reply once it is handed over. This observer lived as long as its call, so V8
    // has often promoted it to the old generation by now; a reply it kept would survive every
    // young-generation GC until the next full one. With 64 KiB replies (W3) that promoted each
    // reply and put a quarter of the load generator's CPU into full GCs.
    const reply = this.reply;
    this.reply = undefined;
    this.done(undefined, reply);
  }
}

async function* generate(items: readonly unknown[]): AsyncGenerator<unknown> {
  for (const item of items) yield item;
}
