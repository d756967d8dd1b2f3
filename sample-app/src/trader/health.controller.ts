import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { ProtosocketClient } from 'nestjs-protosocket';
import { ProtosocketHealthIndicator } from 'nestjs-protosocket/health';

/** GET /health: a real round trip to the quotes microservice (a Ping, and a call through a handler). */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly protosocket: ProtosocketHealthIndicator,
    private readonly quotes: ProtosocketClient,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.protosocket.pingCheck('quotes', this.quotes, { timeoutMs: 1000 }),
      () => this.protosocket.pingCheck('quotes.get', this.quotes, { pattern: 'quotes.get', data: 'ACME', timeoutMs: 1000 }),
    ]);
  }
}
