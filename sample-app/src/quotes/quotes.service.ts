import { Injectable, Logger } from '@nestjs/common';

export interface Quote {
  symbol: string;
  price: number;
  currency: 'USD';
}

export interface Trade {
  symbol: string;
  quantity: number;
  price: number;
}

/** An in-memory order book: deterministic prices, so the sample's output is stable. */
@Injectable()
export class QuotesService {
  private readonly logger = new Logger(QuotesService.name);
  private readonly prices = new Map<string, number>([
    ['ACME', 101.25],
    ['GLOBEX', 54.1],
    ['INITECH', 12.75],
  ]);
  readonly trades: Trade[] = [];

  lookup(symbol: string): Quote | undefined {
    const price = this.prices.get(symbol);
    return price === undefined ? undefined : { symbol, price, currency: 'USD' };
  }

  /** The n-th tick of a symbol's price: a small deterministic walk around its base price. */
  tick(symbol: string, n: number): Quote {
    const base = this.prices.get(symbol) ?? 0;
    const price = Math.round((base + Math.sin(n) * 0.5) * 100) / 100;
    return { symbol, price, currency: 'USD' };
  }

  record(trade: Trade): void {
    this.trades.push(trade);
    this.logger.log(`trade recorded: ${trade.quantity} ${trade.symbol} @ ${trade.price}`);
  }
}
