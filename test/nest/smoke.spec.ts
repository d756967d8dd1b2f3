import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { firstValueFrom, from, interval, lastValueFrom, toArray } from 'rxjs';
import { ProtosocketClient, ProtosocketContext, ProtosocketServer } from '../../src/nest/index.js';

let notified: unknown;
let signalAborted!: () => void;
const aborted = new Promise<void>((r) => (signalAborted = r));

@Controller()
class MathController {
  @MessagePattern({ cmd: 'sum' })
  sum(@Payload() data: number[]): number {
    return data.reduce((a, b) => a + b, 0);
  }

  @MessagePattern({ cmd: 'streaming' })
  streaming(@Payload() data: number[]) {
    return from(data);
  }

  @MessagePattern('ticks')
  ticks(@Ctx() ctx: ProtosocketContext) {
    ctx.getSignal().addEventListener('abort', () => signalAborted());
    return interval(5);
  }

  @MessagePattern('boom')
  boom() {
    throw new RpcException('bad thing');
  }

  @EventPattern('notification')
  notify(@Payload() data: unknown) {
    notified = data;
  }
}

@Module({ controllers: [MathController] })
class AppModule {}

describe('nest smoke', () => {
  it('round trips through a real Nest microservice', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const server = new ProtosocketServer({ port: 0 });
    const app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
    await app.listen();
    const client = new ProtosocketClient({ port: server.port });
    expect(await firstValueFrom(client.send({ cmd: 'sum' }, [1, 2, 3]))).toBe(6);
    expect(await lastValueFrom(client.send({ cmd: 'streaming' }, [1, 2, 3]).pipe(toArray()))).toEqual([1, 2, 3]);
    await expect(firstValueFrom(client.send('boom', {}))).rejects.toEqual({ status: 'error', message: 'bad thing' });
    await expect(firstValueFrom(client.send('nothing', {}))).rejects.toBe('There is no matching message handler defined in the remote service.');
    const sub = client.send('ticks', {}).subscribe();
    await firstValueFrom(client.send('ticks', {}));
    sub.unsubscribe();
    await aborted;
    await lastValueFrom(client.emit('notification', { ok: true }));
    await firstValueFrom(client.send({ cmd: 'sum' }, [1]));
    expect(notified).toEqual({ ok: true });
    await client.close();
    await app.close();
  });
});
