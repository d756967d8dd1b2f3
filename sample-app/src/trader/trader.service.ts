import { Injectable } from '@nestjs/common';
import { ProtosocketClient } from 'nestjs-protosocket';
import { firstValueFrom, take, toArray } from 'rxjs';

interface Quote {
  symbol: string;
  price: number;
  currency: string;
}

/** The client side: a service that injects ProtosocketClient like any other provider. */
@Injectable()
export class TraderService {
  constructor(private readonly quotes: ProtosocketClient) {}

  quote(symbol: string): Promise<Quote> {
    return firstValueFrom(this.quotes.send<Quote>('quotes.get', symbol, { timeoutMs: 1000 }));
  }

  /** Takes `count` ticks, then unsubscribes: the server's feed is cancelled, not left running. */
  watch(symbol: string, count: number): Promise<Quote[]> {
    return firstValueFrom(this.quotes.send<Quote>('quotes.feed', symbol).pipe(take(count), toArray()));
  }

  async buy(symbol: string, quantity: number): Promise<void> {
    const { price } = await this.quote(symbol);
    await firstValueFrom(this.quotes.emit('trades.executed', { symbol, quantity, price }), { defaultValue: undefined });
  }

  tradeCount(): Promise<number> {
    return firstValueFrom(this.quotes.send<number>('trades.count', {}));
  }
}
