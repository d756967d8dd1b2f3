import { type ArgumentsHost, Catch, Controller, Module, type RpcExceptionFilter, UseFilters } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { type Observable, throwError } from 'rxjs';
import { ProtosocketContext } from '../../../src/nest/index.js';
import { Probe } from '../fixtures/probe.js';

/** Pattern with a lone surrogate: JSON (Transport.TCP) escapes it, UTF-8 cannot carry it. */
export const LONE_SURROGATE_PATTERN = 'lone\uD800surrogate';

/** What the `filtered` handler's filter throws, by the name the request gives. */
const FILTER_RESULTS: Record<string, () => unknown> = {
  error: () => new Error('x'),
  rpcException: () => new RpcException('x'),
  null: () => null,
};

class FilterProbe extends Error {
  constructor(readonly kind: string) {
    super(kind);
  }
}

@Catch(FilterProbe)
class ReturnsThrowError implements RpcExceptionFilter<FilterProbe> {
  catch(exception: FilterProbe, _host: ArgumentsHost): Observable<unknown> {
    const make = FILTER_RESULTS[exception.kind] ?? (() => exception);
    return throwError(make);
  }
}

/** One handler per parity scenario; the same module serves Transport.TCP and protosocket. */
@Controller()
export class ParityController {
  constructor(private readonly probe: Probe) {}

  @MessagePattern('sum')
  sum(@Payload() numbers: number[]): number {
    return numbers.reduce((a, b) => a + b, 0);
  }

  @MessagePattern('throw')
  throwOne(@Payload() kind: string): never {
    switch (kind) {
      case 'rpcExceptionOfError':
        throw new RpcException(new Error('x'));
      case 'rpcExceptionOfString':
        throw new RpcException('x');
      case 'rpcExceptionOfObject':
        throw new RpcException({ code: 42, nested: { ok: true } });
      case 'rpcExceptionOfErrorWithFields':
        throw new RpcException(Object.assign(new Error('x'), { code: 'E_FIELD', detail: 1 }));
      default:
        throw new Error('plain boom');
    }
  }

  @MessagePattern('filtered')
  @UseFilters(new ReturnsThrowError())
  filtered(@Payload() kind: string): void {
    throw new FilterProbe(kind);
  }

  @EventPattern('event.only')
  eventOnly(@Payload() data: unknown): unknown {
    this.probe.record('event.only', data);
    return { handledByEvent: data };
  }

  @EventPattern('event.fails')
  eventFails(@Payload() data: unknown): void {
    throw new Error(`event boom ${String(data)}`);
  }

  @MessagePattern(LONE_SURROGATE_PATTERN)
  loneSurrogate(): string {
    return 'matched';
  }

  /**
   * Waits until its call is over: on protosocket the client's cancel aborts `ctx.signal` and
   * the handler gives up by rethrowing the abort reason; Transport.TCP never tells the server,
   * so there the test releases it with `release`.
   */
  @MessagePattern('abortable')
  async abortable(@Ctx() ctx: unknown): Promise<string> {
    this.probe.record('abortable.started');
    if (ctx instanceof ProtosocketContext) {
      const signal = ctx.getSignal();
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      this.probe.record('abortable.aborted', (signal.reason as { code?: string }).code);
      signal.throwIfAborted();
    }
    await this.probe.when('abortable.release');
    this.probe.record('abortable.aborted', 'released');
    return 'done';
  }

  @MessagePattern('release')
  release(): boolean {
    this.probe.record('abortable.release');
    return true;
  }
}

@Module({ controllers: [ParityController], providers: [Probe] })
export class ParityModule {}
