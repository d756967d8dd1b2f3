import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Test } from '@nestjs/testing';
import { ProtosocketServer } from '../../src/nest/index.js';
import { QuotesModule } from '../../sample-app/src/quotes/quotes.module.js';
import { QuotesService } from '../../sample-app/src/quotes/quotes.service.js';
import { TraderModule } from '../../sample-app/src/trader/trader.module.js';
import { TraderService } from '../../sample-app/src/trader/trader.service.js';

/** The exchange `npm start` prints, in one process, so the sample cannot rot unnoticed. */
describe('sample app', () => {
  it('looks up a quote, streams a feed that stops on unsubscribe, and records a trade event', async () => {
    const server = new ProtosocketServer({ port: 0, drainTimeoutMs: 500 });
    const quotesRef = await Test.createTestingModule({ imports: [QuotesModule] }).compile();
    const quotes = quotesRef.createNestMicroservice({ strategy: server, logger: false });
    await quotes.listen();
    const traderRef = await Test.createTestingModule({ imports: [TraderModule.forPort(server.port as number)] }).compile();
    await traderRef.init();
    try {
      const service = traderRef.get(TraderService);
      await expect(service.quote('ACME')).resolves.toEqual({ symbol: 'ACME', price: 101.25, currency: 'USD' });
      await expect(service.quote('NOPE')).rejects.toEqual({ code: 'UNKNOWN_SYMBOL', message: 'no such symbol: NOPE' });
      const ticks = await service.watch('GLOBEX', 5);
      expect(ticks.map((t) => t.symbol)).toEqual(['GLOBEX', 'GLOBEX', 'GLOBEX', 'GLOBEX', 'GLOBEX']);
      await service.buy('INITECH', 100);
      await expect(service.tradeCount()).resolves.toBe(1);
      expect(quotes.get(QuotesService).trades).toEqual([{ symbol: 'INITECH', quantity: 100, price: 12.75 }]);
    } finally {
      await traderRef.close();
      await quotes.close();
    }
  });

  it('serves /health over HTTP with a real round trip to the quotes microservice', async () => {
    const server = new ProtosocketServer({ port: 0, drainTimeoutMs: 500 });
    const quotesRef = await Test.createTestingModule({ imports: [QuotesModule] }).compile();
    const quotes = quotesRef.createNestMicroservice({ strategy: server, logger: false });
    await quotes.listen();
    const traderRef = await Test.createTestingModule({ imports: [TraderModule.forPort(server.port as number)] }).compile();
    const trader = traderRef.createNestApplication({ logger: false });
    await trader.listen(0, '127.0.0.1');
    try {
      const { port } = trader.getHttpServer().address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { info: Record<string, { status: string }> };
      expect(body.info.quotes?.status).toBe('up');
      expect(body.info['quotes.get']?.status).toBe('up');
    } finally {
      await trader.close();
      await quotes.close();
    }
  });
});
