import 'reflect-metadata';
import type { INestMicroservice } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ProtosocketClient, ProtosocketServer } from 'nestjs-protosocket';
import { firstValueFrom } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppModule } from '../src/app.module.js';

describe('AppController (e2e)', () => {
  let app: INestMicroservice;
  let client: ProtosocketClient;

  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    // Port 0: a free port, read back from the server, so test files can run in parallel.
    const server = new ProtosocketServer({ port: 0 });
    app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
    await app.listen();
    client = new ProtosocketClient({ port: server.port });
  });

  afterEach(async () => {
    await client.close();
    await app.close();
  });

  it('{ cmd: "sum" } answers with the sum', async () => {
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [1, 2, 3]))).resolves.toBe(6);
  });
});
