import 'reflect-metadata';
import type { ReadPacket } from '@nestjs/microservices';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import { useResources } from './fixtures/harness.js';

interface ContextView {
  pattern: string;
  id: number;
  remoteAddress: string | undefined;
  deadline: number | null;
}

describe('ProtosocketContext', () => {
  const res = useResources();

  const setup = () => res.connectedMicroservice();

  describe('packet metadata from the client dispatch hook (Nest packet-metadata-tcp)', () => {
    it('reaches the message handler as ctx.getMetadata()', async () => {
      const { client } = await setup();
      const seen: ReadPacket[] = [];
      client.setOnDispatchHook((packet) => {
        seen.push({ ...packet });
        packet.metadata = { 'x-request-id': 'trace-1' };
      });
      await expect(firstValueFrom(client.send('metadata', { orderId: 7 }))).resolves.toEqual({
        data: { orderId: 7 },
        metadata: { 'x-request-id': 'trace-1' },
      });
      expect(seen).toEqual([{ pattern: 'metadata', data: { orderId: 7 } }]);
    });

    it('reaches event handlers too', async () => {
      const { client, probe } = await setup();
      client.setOnDispatchHook((packet) => {
        packet.metadata = { 'x-request-id': 'trace-1' };
      });
      await lastValueFrom(client.emit('audit', { orderId: 8 }), { defaultValue: undefined });
      await expect(probe.when('audit')).resolves.toEqual({ data: { orderId: 8 }, metadata: { 'x-request-id': 'trace-1' } });
    });

    it('is absent without a hook', async () => {
      const { client } = await setup();
      await expect(firstValueFrom(client.send('metadata', { orderId: 9 }))).resolves.toEqual({ data: { orderId: 9 }, metadata: null });
    });
  });

  describe('call fields', () => {
    it('carries the pattern, a positive call id and the peer address', async () => {
      const { client } = await setup();
      const ctx = await firstValueFrom(client.send<ContextView>('context', {}));
      expect(ctx.pattern).toBe('context');
      expect(ctx.id).toBeGreaterThan(0);
      expect(ctx.remoteAddress).toBe('127.0.0.1');
    });

    it('gives object patterns in their normalized (sorted-key JSON) form', async () => {
      const { client } = await setup();
      const ctx = await firstValueFrom(client.send<ContextView>({ v: 1, cmd: 'context' }, {}));
      expect(ctx.pattern).toBe('{"cmd":"context","v":1}');
    });

    it('has the deadline when the client gives a per-call time budget, and none otherwise', async () => {
      const { client } = await setup();
      const before = Date.now();
      const withBudget = await firstValueFrom(client.send<ContextView>('context', {}, { timeoutMs: 1000 }));
      const after = Date.now();
      expect(withBudget.deadline).not.toBeNull();
      expect(withBudget.deadline).toBeGreaterThanOrEqual(before + 1000);
      expect(withBudget.deadline).toBeLessThanOrEqual(after + 1000);

      const withoutBudget = await firstValueFrom(client.send<ContextView>('context', {}));
      expect(withoutBudget.deadline).toBeNull();
    });
  });
});
