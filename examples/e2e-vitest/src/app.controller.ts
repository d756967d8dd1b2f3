import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { AppService } from './app.service.js';

@Controller()
export class AppController {
  // Injected by type: this needs decorator metadata, which is what the test setup must provide.
  constructor(private readonly appService: AppService) {}

  @MessagePattern({ cmd: 'sum' })
  sum(@Payload() numbers: number[]): number {
    return this.appService.sum(numbers);
  }
}
