import 'reflect-metadata';
import { fork } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { trace } from '@opentelemetry/api';
import { startTelemetry, TRACED_ROOT } from './telemetry.js';
import { TraderModule } from './trader/trader.module.js';
import { TraderService } from './trader/trader.service.js';

/**
 * Starts the quotes microservice in a child process, then a client application (an HTTP app
 * with a /health route) that talks to it through an injected ProtosocketClient, prints what
 * they exchanged, the health check, and the trace of one call as both processes saw it, and
 * shuts both down.
 */
async function main(): Promise<void> {
  startTelemetry('trader');
  const logger = new Logger('sample');
  const child = fork(fileURLToPath(new URL('./server.js', import.meta.url)));
  const [ready] = (await once(child, 'message')) as [{ port: number }];
  logger.log(`quotes microservice listening on 127.0.0.1:${ready.port}`);

  const app = await NestFactory.create(TraderModule.forPort(ready.port), { logger: ['log', 'error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const { port: httpPort } = app.getHttpServer().address() as AddressInfo;
  const trader = app.get(TraderService);
  try {
    const health = await fetch(`http://127.0.0.1:${httpPort}/health`);
    logger.log(`GET /health                  -> ${health.status} ${JSON.stringify(await health.json())}`);

    // One traced call: the client span, the server span (printed by the child process) and the
    // handler's own span share one trace id, each the parent of the next.
    await trace.getTracer('sample').startActiveSpan(TRACED_ROOT, async (span) => {
      await trader.quote('ACME');
      span.end();
    });

    const quote = await trader.quote('ACME');
    logger.log(`unary   quotes.get ACME      -> ${JSON.stringify(quote)}`);

    const unknown = await trader.quote('NOPE').catch((err: unknown) => err);
    logger.log(`unary   quotes.get NOPE      -> error ${JSON.stringify(unknown)}`);

    const ticks = await trader.watch('GLOBEX', 5);
    logger.log(`stream  quotes.feed GLOBEX   -> ${ticks.map((t) => t.price).join(', ')} (then unsubscribed)`);

    await trader.buy('INITECH', 100);
    logger.log(`event   trades.executed      -> sent 100 INITECH`);

    const count = await trader.tradeCount();
    logger.log(`unary   trades.count         -> ${count}`);
    if (count !== 1 || quote.symbol !== 'ACME' || ticks.length !== 5) throw new Error('unexpected exchange');
  } finally {
    await app.close();
    child.send({ shutdown: true });
    await once(child, 'exit');
  }
  logger.log('done');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
