import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { from, of } from 'rxjs';
import type { ProtosocketContext } from '../../src/nest/index.js';
import { deferred, type Deferred } from '../helpers/async.js';

/** What the handlers saw, for the tests to look at. Reset before each test. */
export class InteropProbe {
  /** Items the `count` generator has produced so far. */
  produced = 0;
  /** Ids the `echo` handler saw (ctx.getId()). */
  ids: number[] = [];
  /** Resolved with the pattern once a waiting handler has started. */
  started: Deferred<string> = deferred<string>();
  /** Resolved with the abort reason's code once a waiting handler's signal aborted. */
  aborted: Deferred<string | undefined> = deferred<string | undefined>();
  notes: unknown[] = [];
  noted: Deferred<unknown> = deferred();
  /** Resolved with the last tick once the `ticks` generator was stopped. */
  stopped: Deferred<number> = deferred<number>();

  reset(): void {
    this.produced = 0;
    this.ids = [];
    this.started = deferred<string>();
    this.aborted = deferred<string | undefined>();
    this.notes = [];
    this.noted = deferred();
    this.stopped = deferred<number>();
  }
}

export const probe = new InteropProbe();

/** Payload bytes of one `count` item: 10,000 of them are ~20 MB, more than the sockets buffer. */
export const COUNT_PAD = 2000;

/** The handlers a Rust protosocket-rpc client calls (test/interop/rust-client.interop.ts). */
@Controller()
class InteropController {
  /** Unary: a Promise of the value (one Normal). */
  @MessagePattern('echo')
  async echo(@Payload() data: unknown, @Ctx() ctx: ProtosocketContext): Promise<unknown> {
    probe.ids.push(ctx.getId());
    return data;
  }

  /** Unary: 200 KiB of bytes. */
  @MessagePattern('big')
  big(): Buffer {
    return Buffer.alloc(200 * 1024, 7);
  }

  /** A pulled stream of `n` items, each with COUNT_PAD bytes of padding. */
  @MessagePattern('count')
  async *count(@Payload() n: number): AsyncGenerator<{ i: number; pad: string }> {
    const pad = 'x'.repeat(COUNT_PAD);
    for (let i = 0; i < n; i++) {
      probe.produced = i + 1;
      yield { i, pad };
    }
  }

  /** An Observable of one value: still a stream under the profile (Normal, End). */
  @MessagePattern('one')
  one(): unknown {
    return of(41);
  }

  /** An Observable of many values. */
  @MessagePattern('many')
  many(): unknown {
    return from([0, 1, 2, 3, 4]);
  }

  /** Runs until its call is cancelled (or the server shuts down), then reports why. */
  @MessagePattern('wait')
  wait(@Ctx() ctx: ProtosocketContext): Promise<never> {
    probe.started.resolve('wait');
    const signal = ctx.getSignal();
    return new Promise((_, reject) => {
      signal.addEventListener('abort', () => {
        const reason = signal.reason as { code?: string } | undefined;
        probe.aborted.resolve(reason?.code);
        reject(signal.reason);
      });
    });
  }

  /** Ticks until its call ends; says when its generator was stopped. */
  @MessagePattern('ticks')
  async *ticks(): AsyncGenerator<number> {
    let i = 0;
    try {
      for (;; i++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        yield i;
      }
    } finally {
      probe.stopped.resolve(i);
    }
  }

  @MessagePattern('fail')
  fail(): never {
    throw new RpcException({ code: 'E_INTEROP', message: 'the fail handler always fails' });
  }

  /** An event pattern: a Rust peer has no events, its request runs this and gets an empty answer. */
  @EventPattern('note')
  note(@Payload() data: unknown): void {
    probe.notes.push(data);
    probe.noted.resolve(data);
  }
}

@Module({ controllers: [InteropController] })
export class InteropModule {}
