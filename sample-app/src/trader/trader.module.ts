import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ProtosocketModule } from 'nestjs-protosocket';
import { ProtosocketHealthIndicator } from 'nestjs-protosocket/health';
import { HealthController } from './health.controller.js';
import { TraderService } from './trader.service.js';

@Module({})
export class TraderModule {
  static forPort(port: number) {
    return {
      module: TraderModule,
      imports: [ProtosocketModule.registerClient({ name: 'QUOTES', port, timeoutMs: 5000 }), TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers: [TraderService, ProtosocketHealthIndicator],
      exports: [TraderService],
    };
  }
}
