/**
 * The Nest application both Nest drivers serve, so Nest's TCP transport and this transport
 * run the very same controller through the same pipeline (param decorators included).
 */
import { Controller, type DynamicModule, Inject, Module } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { type Observable, from } from 'rxjs';
import { COUNT, ECHO, STREAM, type ServerHooks } from './driver.js';

export const SERVER_HOOKS = Symbol('SERVER_HOOKS');

@Controller()
class BenchController {
  constructor(@Inject(SERVER_HOOKS) private readonly hooks: ServerHooks) {}

  @MessagePattern(ECHO)
  echo(@Payload() data: unknown): unknown {
    this.hooks.request();
    return data;
  }

  @MessagePattern(STREAM)
  stream(@Payload() count: number): Observable<unknown> {
    return from(this.hooks.streamItems(count));
  }

  @EventPattern(COUNT)
  count(@Payload() _data: unknown): void {
    this.hooks.event();
  }
}

@Module({})
export class BenchAppModule {
  static forRoot(hooks: ServerHooks): DynamicModule {
    return {
      module: BenchAppModule,
      controllers: [BenchController],
      providers: [{ provide: SERVER_HOOKS, useValue: hooks }],
    };
  }
}
