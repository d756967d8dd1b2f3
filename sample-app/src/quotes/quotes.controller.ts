import { Controller, Logger } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { ProtosocketContext } from 'nestjs-protosocket';
import { trace } from '@opentelemetry/api';
import { finalize, interval, map } from 'rxjs';
import { type Quote, QuotesService, type Trade } from './quotes.service.js';

@Controller()
export class QuotesController {
  private readonly logger = new Logger(QuotesController.name);

  constructor(private readonly quotes: QuotesService) {}

  /** Unary: one quote. */
  @MessagePattern('quotes.get')
  get(@Payload() symbol: string): Quote {
    // A span made in a handler is a child of the call's server span (a no-op without an SDK).
    const span = trace.getTracer('quotes').startSpan('quotes.lookup');
    const quote = this.quotes.lookup(symbol);
    span.end();
    if (quote === undefined) throw new RpcException({ code: 'UNKNOWN_SYMBOL', message: `no such symbol: ${symbol}` });
    return quote;
  }

  /** Streamed: a price tick every 20 ms until the client unsubscribes (the server sees the cancel). */
  @MessagePattern('quotes.feed')
  feed(@Payload() symbol: string, @Ctx() ctx: ProtosocketContext) {
    const signal = ctx.getSignal();
    signal.addEventListener('abort', () => this.logger.log(`feed for ${symbol} cancelled by the client (${String(signal.reason?.code)})`));
    return interval(20).pipe(
      map((n) => this.quotes.tick(symbol, n)),
      finalize(() => this.logger.log(`feed for ${symbol} stopped`)),
    );
  }

  /** Event: no reply. */
  @EventPattern('trades.executed')
  executed(@Payload() trade: Trade): void {
    this.quotes.record(trade);
  }

  @MessagePattern('trades.count')
  count(): number {
    return this.quotes.trades.length;
  }
}
