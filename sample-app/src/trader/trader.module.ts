import { Module } from '@nestjs/common';
import { ProtosocketModule } from 'nestjs-protosocket';
import { TraderService } from './trader.service.js';

@Module({})
export class TraderModule {
  static forPort(port: number) {
    return {
      module: TraderModule,
      imports: [ProtosocketModule.registerClient({ name: 'QUOTES', port, timeoutMs: 5000 })],
      providers: [TraderService],
      exports: [TraderService],
    };
  }
}
