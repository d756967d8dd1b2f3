import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ProtosocketServer } from 'nestjs-protosocket';
import { AppModule } from './app.module.js';

// What `nest new` generates, switched from `transport: Transport.TCP` to this transport.
const app = await NestFactory.createMicroservice(AppModule, { strategy: new ProtosocketServer({ port: 4000 }) });
await app.listen();
