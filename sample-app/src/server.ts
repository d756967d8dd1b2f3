import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ProtosocketServer } from 'nestjs-protosocket';
import { QuotesModule } from './quotes/quotes.module.js';
import { startTelemetry } from './telemetry.js';

/**
 * The quotes microservice, run as its own process. Tells its parent the port it bound, and
 * shuts down gracefully (in-flight calls finish) when asked or on SIGTERM.
 */
async function main(): Promise<void> {
  startTelemetry('quotes');
  const server = new ProtosocketServer({ host: '127.0.0.1', port: 0, drainTimeoutMs: 2000 });
  const app = await NestFactory.createMicroservice(QuotesModule, { strategy: server, logger: ['log', 'error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen();
  process.send?.({ ready: true, port: server.port });
  process.on('message', (message: { shutdown?: boolean }) => {
    if (message.shutdown === true) void app.close().then(() => process.disconnect?.());
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
