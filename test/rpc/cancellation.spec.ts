import type { CallContext, RpcClient, RpcServer, Subscribable } from '../../src/rpc/index.js';
import { deferred, nextTurn, within, type Deferred } from '../helpers/async.js';
import { codeOf, rejection } from '../helpers/errors.js';
import { rpcPair, type RpcPair } from './support.js';

/** Items a producer could make if nothing stopped it. */
const LIMIT = 1_000_000;
const PAD = 'x'.repeat(200);

interface Aborted {
  reason: unknown;
}

/** When `signal` aborts, with its reason. */
function whenAborted(signal: AbortSignal): Promise<Aborted> {
  if (signal.aborted) return Promise.resolve({ reason: signal.reason });
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ reason: signal.reason }), { once: true }));
}

/** What a handler reports about its call as soon as it starts. */
interface Started {
  ctx: CallContext;
  aborted: Promise<Aborted>;
}

interface Probe {
  /** Resolves with the first call's context. */
  started: Promise<Started>;
  /** Called by the handler with its context. */
  record(ctx: CallContext): Started;
}

function probe(): Probe {
  const first = deferred<Started>();
  return {
    started: first.promise,
    record(ctx) {
      const started = { ctx, aborted: whenAborted(ctx.signal) };
      first.resolve(started);
      return started;
    },
  };
}

/**
 * Waits for the handler's signal to abort (the event itself, not a time bound: `within` is only
 * the safety net) and checks that it aborted with `code`.
 */
async function expectHandlerAborted(started: Promise<Started>, code: string): Promise<void> {
  const { aborted } = await started;
  const seen = await within(aborted, 2000, 'the handler signal to abort');
  expect(codeOf(seen.reason)).toBe(code);
}

/** A push source that emits 0, 1, 2... one per event-loop turn until unsubscribed. */
function ticker(): { source: Subscribable<number>; unsubscribed: Promise<number> } {
  const unsubscribed = deferred<number>();
  const source: Subscribable<number> = {
    subscribe(observer) {
      let stopped = false;
      let emitted = 0;
      const tick = (): void => {
        if (stopped) return;
        observer.next(emitted++);
        setImmediate(tick);
      };
      setImmediate(tick);
      return {
        unsubscribe() {
          stopped = true;
          unsubscribed.resolve(emitted);
        },
      };
    },
  };
  return { source, unsubscribed: unsubscribed.promise };
}

describe('cancellation reaches the server', () => {
  let pair: RpcPair;
  let unary: Probe;
  let streamed: Probe;
  let pulls: number;
  let generatorDone: Deferred<void>;
  let pushed: ReturnType<typeof ticker>;
  let pushedStarted: Probe;

  beforeEach(async () => {
    unary = probe();
    streamed = probe();
    pushedStarted = probe();
    pulls = 0;
    generatorDone = deferred();
    pushed = ticker();
    pair = await rpcPair((server) => {
      server
        .handle('hang', (_data, ctx) => unary.record(ctx).aborted.then(() => 'too late'))
        .handle('ticks', async function* (_data, ctx) {
          streamed.record(ctx);
          try {
            for (let i = 0; i < LIMIT; i++) {
              pulls++;
              yield { i, pad: PAD };
            }
          } finally {
            generatorDone.resolve();
          }
        })
        .handle('pushed', (_data, ctx) => {
          pushedStarted.record(ctx);
          return pushed.source;
        })
        .handle('noop', () => 'ok');
    });
  });

  afterEach(() => pair.dispose());

  it('unary: aborting the client signal aborts the handler signal', async () => {
    const controller = new AbortController();
    const call = pair.client.call('hang', null, { signal: controller.signal });
    await unary.started;
    controller.abort();

    expect(await rejection(call)).toMatchObject({ code: 'ERR_CANCELLED' });
    await expectHandlerAborted(unary.started, 'ERR_CANCELLED');
  });

  it('stream: breaking out of for-await aborts the handler and stops pulling its generator', async () => {
    for await (const item of pair.client.stream<{ i: number }>('ticks', null)) {
      if (item.i === 20) break;
    }
    await expectHandlerAborted(streamed.started, 'ERR_CANCELLED');
    await within(generatorDone.promise, 2000, 'the generator to be closed');

    const pullsWhenStopped = pulls;
    // A full round trip on the same connection: anything still pulling would have run by now.
    expect(await pair.client.call('noop', null)).toBe('ok');
    await nextTurn();
    expect(pulls).toBe(pullsWhenStopped);
    expect(pulls).toBeLessThan(LIMIT);
  });

  it('stream: aborting its signal fails the iteration with ERR_CANCELLED and stops the generator', async () => {
    const controller = new AbortController();
    const consume = async (): Promise<void> => {
      for await (const item of pair.client.stream<{ i: number }>('ticks', null, { signal: controller.signal })) {
        if (item.i === 20) controller.abort();
      }
    };
    expect(await rejection(consume())).toMatchObject({ code: 'ERR_CANCELLED' });
    await expectHandlerAborted(streamed.started, 'ERR_CANCELLED');
    await within(generatorDone.promise, 2000, 'the generator to be closed');
    expect(pulls).toBeLessThan(LIMIT);
  });

  it('a Subscribable is unsubscribed when the client stops reading its stream', async () => {
    const received: number[] = [];
    for await (const item of pair.client.stream<number>('pushed', null)) {
      received.push(item);
      if (received.length === 5) break;
    }
    expect(received).toEqual([0, 1, 2, 3, 4]);
    await within(pushed.unsubscribed, 2000, 'unsubscribe');
    await expectHandlerAborted(pushedStarted.started, 'ERR_CANCELLED');
  });

  it('a Subscribable that never emitted is unsubscribed when its unary call is aborted', async () => {
    const controller = new AbortController();
    const call = pair.client.call('pushed', null, { signal: controller.signal });
    await pushedStarted.started;
    controller.abort();
    expect(await rejection(call)).toMatchObject({ code: 'ERR_CANCELLED' });
    await within(pushed.unsubscribed, 2000, 'unsubscribe');
  });
});

describe('deadlines', () => {
  const setup = (slow: Probe) => (server: RpcServer) => {
    server
      .handle('slow', (_data, ctx) => slow.record(ctx).aborted.then(() => 'too late'))
      .handle('deadline', (_data, ctx) => ctx.deadline ?? 'none');
  };

  async function expectDeadline(client: RpcClient, slow: Probe, options?: { timeoutMs: number }): Promise<void> {
    const sentAt = Date.now();
    const err = await rejection(client.call('slow', null, options));
    expect(err).toMatchObject({ code: 'ERR_DEADLINE_EXCEEDED' });
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(45);

    const { ctx, aborted } = await slow.started;
    const seen = await within(aborted, 2000, 'the handler signal to abort');
    expect(codeOf(seen.reason)).toBe('ERR_DEADLINE_EXCEEDED');
    expect(ctx.deadline).toBeGreaterThanOrEqual(sentAt + 50);
    expect(ctx.deadline).toBeLessThan(sentAt + 50 + 1000);
  }

  it('a per-call timeoutMs fails the call and aborts the handler with ERR_DEADLINE_EXCEEDED', async () => {
    const slow = probe();
    const { client, dispose } = await rpcPair(setup(slow));
    try {
      await expectDeadline(client, slow, { timeoutMs: 50 });
      // The connection is fine afterwards.
      expect(await client.call('deadline', null)).toBe('none');
    } finally {
      await dispose();
    }
  });

  it('the client default timeoutMs applies to calls that set none; timeoutMs 0 turns it off', async () => {
    const slow = probe();
    const { client, dispose } = await rpcPair(setup(slow), { client: { timeoutMs: 50 } });
    try {
      await expectDeadline(client, slow);
      expect(await client.call('deadline', null, { timeoutMs: 0 })).toBe('none');
      expect(await client.call('deadline', null)).toEqual(expect.any(Number));
    } finally {
      await dispose();
    }
  });
});
