import { Backoff } from '../../../src/rpc/client/backoff.js';
import { Channel, type ChannelState } from '../../../src/rpc/client/channel.js';
import { EndpointSource } from '../../../src/rpc/client/resolver.js';
import type { ClientSession } from '../../../src/rpc/client/session.js';
import { deferred, type Deferred } from '../../helpers/async.js';
import { codeOf, rejection } from '../../helpers/errors.js';

/** Stands in for a ClientSession and its connection: the test decides when calls finish and when it closes. */
class FakeSession {
  state: 'open' | 'closing' | 'closed' = 'open';
  toldToGoAway = false;
  inFlight = 0;
  destroyedWith: Error | undefined | 'not destroyed' = 'not destroyed';
  /** Resolves once `prove()` is called: the connection carried a frame (or stayed open long enough). */
  private readonly provenSignal = deferred();
  readonly proven = this.provenSignal.promise;
  readonly conn: { readonly state: string; closed: Promise<Error | undefined>; close(): Promise<Error | undefined>; destroy(reason?: Error): void };
  private readonly closing = deferred<Error | undefined>();
  private idle = deferred();

  constructor(readonly onGoAway: (session: ClientSession) => void) {
    const fake = this;
    this.conn = {
      get state() {
        return fake.state;
      },
      closed: this.closing.promise,
      close() {
        if (fake.state === 'open') {
          fake.state = 'closing';
          setImmediate(() => fake.end(undefined));
        }
        return fake.closing.promise;
      },
      destroy(reason?: Error) {
        if (fake.state === 'closed') return;
        fake.destroyedWith = reason;
        fake.state = 'closing';
        setImmediate(() => fake.end(reason));
      },
    };
  }

  get usable(): boolean {
    return !this.toldToGoAway && this.state === 'open';
  }

  whenIdle(): Promise<void> {
    return this.inFlight === 0 || this.state === 'closed' ? Promise.resolve() : this.idle.promise;
  }

  /** The calls in flight settle. */
  settleCalls(): void {
    this.inFlight = 0;
    this.idle.resolve();
    this.idle = deferred();
  }

  prove(): void {
    this.provenSignal.resolve();
  }

  goAway(): void {
    this.toldToGoAway = true;
    this.onGoAway(this as unknown as ClientSession);
  }

  /** The connection closes (dropped, with `reason`, or cleanly). */
  end(reason: Error | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.idle.resolve();
    this.closing.resolve(reason);
  }
}

/** Counts the delays it hands out: each one is a background reconnect scheduled. */
class CountingBackoff extends Backoff {
  scheduled = 0;

  constructor() {
    super({ initialDelayMs: 1, maxDelayMs: 2 });
  }

  override next(): number {
    this.scheduled++;
    return super.next();
  }
}

/** A channel of one endpoint whose connection attempts the test settles by hand. */
function harness(backoff: Backoff | undefined = undefined) {
  const attempts: { result: Deferred<ClientSession>; session: FakeSession }[] = [];
  const statuses: ChannelState[] = [];
  const errors: unknown[] = [];
  const waiters: { state: ChannelState; resolve: () => void }[] = [];
  const channel = new Channel(
    {
      source: EndpointSource.single({ port: 1 }),
      connect: (_endpoint, events) => {
        const result = deferred<ClientSession>();
        attempts.push({ result, session: new FakeSession((session) => events.onGoAway(session)) });
        return result.promise;
      },
      backoff: backoff === undefined ? undefined : () => backoff,
      balancer: 'p2c',
      connectionsPerEndpoint: 1,
      resolveIntervalMs: 30_000,
    },
    {
      onStatus: (state) => {
        statuses.push(state);
        for (let i = waiters.length - 1; i >= 0; i--) {
          const waiter = waiters[i] as (typeof waiters)[number];
          if (waiter.state !== state) continue;
          waiters.splice(i, 1);
          waiter.resolve();
        }
      },
      onError: (err) => errors.push(err),
      onObserverError: (err) => errors.push(err),
    },
  );
  const attempt = (n: number): (typeof attempts)[number] => {
    const found = attempts[n];
    if (found === undefined) throw new Error(`no attempt ${n}`);
    return found;
  };
  return {
    channel,
    attempts,
    statuses,
    errors,
    /** Lets attempt `n` connect; returns its session. */
    succeed(n: number): FakeSession {
      attempt(n).result.resolve(attempt(n).session as unknown as ClientSession);
      return attempt(n).session;
    },
    fail(n: number, err: Error): void {
      attempt(n).result.reject(err);
    },
    /** Resolves when the channel next enters `state` (not at once if it is in it already). */
    reached(state: ChannelState): Promise<void> {
      return new Promise((resolve) => waiters.push({ state, resolve }));
    },
  };
}

const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

describe('Channel', () => {
  it('connects once for every waiting caller, then hands out the session synchronously', async () => {
    const { channel, attempts, statuses, succeed } = harness();
    expect(channel.state).toBe('idle');
    expect(channel.pick()).toBeUndefined();
    const first = channel.ready();
    const second = channel.ready();
    expect(attempts).toHaveLength(1);
    const session = succeed(0);
    expect(await first).toBe(session);
    expect(await second).toBe(session);
    expect(channel.pick()).toBe(session);
    expect(channel.session).toBe(session);
    expect(statuses).toEqual(['connecting', 'connected']);
    await channel.close(1000);
  });

  it('a first attempt that fails goes back to idle, reports the error and fails the waiters; nothing retries', async () => {
    const backoff = new CountingBackoff();
    const { channel, statuses, errors, fail } = harness(backoff);
    const waiting = rejection(channel.ready());
    fail(0, refused);
    expect(await waiting).toBe(refused);
    expect(statuses).toEqual(['connecting', 'idle']);
    expect(errors).toEqual([refused]);
    expect(backoff.scheduled).toBe(0);
    await channel.close(1000);
  });

  it('a dropped connection reports its error, goes disconnected and reconnects in the background with backoff', async () => {
    const backoff = new CountingBackoff();
    const { channel, attempts, statuses, errors, succeed, fail, reached } = harness(backoff);
    void channel.ready();
    const first = succeed(0);
    await channel.ready();

    const reconnecting = reached('connecting');
    first.end(reset);
    await reconnecting;
    expect(errors).toEqual([reset]);
    expect(backoff.scheduled).toBe(1);
    // A failed background attempt after a loss stays disconnected and schedules the next.
    const retried = reached('disconnected').then(() => reached('connecting'));
    fail(1, refused);
    await retried;
    expect(backoff.scheduled).toBe(2);
    expect(attempts).toHaveLength(3);
    const third = succeed(2);
    expect(await channel.ready()).toBe(third);
    expect(statuses).toEqual(['connecting', 'connected', 'disconnected', 'connecting', 'disconnected', 'connecting', 'connected']);
    expect(errors).toEqual([reset, refused]);
    await channel.close(1000);
  });

  it('the backoff starts over only once a connection proved itself, not when it merely opened', async () => {
    let resets = 0;
    const backoff = new (class extends CountingBackoff {
      override reset(): void {
        resets++;
        super.reset();
      }
    })();
    const { channel, succeed, reached } = harness(backoff);
    void channel.ready();
    const first = succeed(0);
    await channel.ready();
    // Connected, but nothing came from the server yet: the backoff keeps its count.
    await Promise.resolve();
    expect(resets).toBe(0);
    first.prove();
    await first.proven;
    await Promise.resolve();
    expect(resets).toBe(1);

    const reconnecting = reached('connecting');
    first.end(reset);
    await reconnecting;
    // Accepted and dropped without a frame: no reset.
    const again = reached('connecting');
    succeed(1).end(reset);
    await again;
    expect(resets).toBe(1);
    expect(backoff.scheduled).toBe(2);
    await channel.close(1000);
  });

  it('without backoff a dropped connection stays disconnected until the next ready()', async () => {
    const { channel, attempts, statuses, succeed, reached } = harness(undefined);
    // Its connection closes before anyone could use it: this wait fails (nothing left connecting).
    void channel.ready().catch(() => {});
    const disconnected = reached('disconnected');
    succeed(0).end(undefined);
    await disconnected;
    expect(attempts).toHaveLength(1);
    const next = channel.ready();
    expect(channel.state).toBe('connecting');
    const second = succeed(1);
    expect(await next).toBe(second);
    expect(statuses).toEqual(['connecting', 'connected', 'disconnected', 'connecting', 'connected']);
    await channel.close(1000);
  });

  it('GoAway: new calls go to a new connection, the old one closes once its calls settle, and its end is no error', async () => {
    const { channel, statuses, errors, succeed } = harness(new CountingBackoff());
    void channel.ready();
    const old = succeed(0);
    await channel.ready();
    old.inFlight = 2;

    old.goAway();
    expect(channel.state).toBe('connecting');
    expect(channel.pick()).toBeUndefined();
    const fresh = succeed(1);
    expect(await channel.ready()).toBe(fresh);
    expect(old.state).toBe('open');

    old.settleCalls();
    await old.conn.closed;
    expect(old.destroyedWith).toBe('not destroyed');
    expect(channel.state).toBe('connected');
    expect(statuses).toEqual(['connecting', 'connected', 'connecting', 'connected']);
    expect(errors).toEqual([]);
    await channel.close(1000);
  });

  it('a current connection found closing is replaced at once; its end is still reported', async () => {
    const { channel, statuses, errors, succeed } = harness(undefined);
    void channel.ready();
    const old = succeed(0);
    await channel.ready();
    old.state = 'closing';

    const next = channel.ready();
    expect(channel.state).toBe('connecting');
    old.end(reset);
    const fresh = succeed(1);
    expect(await next).toBe(fresh);
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toEqual([reset]);
    expect(statuses).toEqual(['connecting', 'connected', 'connecting', 'connected']);
    await channel.close(1000);
  });

  it('close(): closed at once; an attempt in flight then fails ERR_CLIENT_CLOSED and is destroyed when it lands; a later ready() connects anew', async () => {
    const { channel, statuses, succeed } = harness(undefined);
    const waiting = rejection(channel.ready());
    const closing = channel.close(1000);
    expect(channel.state).toBe('closed');
    const late = succeed(0);
    expect(codeOf(await waiting)).toBe('ERR_CLIENT_CLOSED');
    expect(late.destroyedWith).toBeUndefined();
    await closing;
    await channel.close(1000);
    expect(statuses).toEqual(['connecting', 'closed']);
    // Not terminal, as Transport.TCP's client after close(): the next caller opens a new connection.
    const again = channel.ready();
    expect(channel.state).toBe('connecting');
    const fresh = succeed(1);
    expect(await again).toBe(fresh);
    expect(statuses).toEqual(['connecting', 'closed', 'connecting', 'connected']);
    await channel.close(1000);
  });

  it('close() during an attempt, then ready(): the old attempt landing late moves nothing; the new one connects', async () => {
    const { channel, statuses, succeed } = harness(undefined);
    const first = rejection(channel.ready());
    void channel.close(1000);
    const second = channel.ready();
    const stale = succeed(0);
    expect(codeOf(await first)).toBe('ERR_CLIENT_CLOSED');
    expect(stale.destroyedWith).toBeUndefined();
    expect(channel.state).toBe('connecting');
    const fresh = succeed(1);
    expect(await second).toBe(fresh);
    expect(statuses).toEqual(['connecting', 'closed', 'connecting', 'connected']);
    await channel.close(1000);
  });

  it('close() waits for the calls in flight; destroy() meanwhile ends every connection at once', async () => {
    const { channel, succeed } = harness(undefined);
    void channel.ready();
    const current = succeed(0);
    await channel.ready();
    current.inFlight = 1;
    let closed = false;
    const closing = channel.close(5000).then(() => (closed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    expect(current.state).toBe('open');

    channel.destroy(reset);
    await closing;
    expect(current.destroyedWith).toBe(reset);
  });
});
