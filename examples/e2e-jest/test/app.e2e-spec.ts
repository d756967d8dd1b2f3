import 'reflect-metadata';
import type { INestMicroservice } from '@nestjs/common';
import { ClientsModule } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { ProtosocketClient, ProtosocketServer } from 'nestjs-protosocket';
import { firstValueFrom } from 'rxjs';
// The same app as the Vitest example: only the test setup differs.
import { AppModule } from '../../e2e-vitest/src/app.module.js';

describe('AppController (e2e, Jest ESM)', () => {
  let app: INestMicroservice;
  let client: ProtosocketClient;

  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const server = new ProtosocketServer({ port: 0 });
    app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
    await app.listen();
    // A client as an app registers it, through ClientsModule.
    const clients = await Test.createTestingModule({
      imports: [ClientsModule.register([{ name: 'MATH', customClass: ProtosocketClient, options: { port: server.port } }])],
    }).compile();
    client = clients.get('MATH');
  });

  afterEach(async () => {
    await client.close();
    await app.close();
  });

  it('{ cmd: "sum" } answers with the sum', async () => {
    await expect(firstValueFrom(client.send({ cmd: 'sum' }, [1, 2, 3]))).resolves.toBe(6);
  });
});
