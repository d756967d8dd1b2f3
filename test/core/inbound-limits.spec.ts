import type net from 'node:net';
import {
  connect,
  InboundBudgetError,
  listen,
  MAX_OVERSIZED_IN_A_ROW,
  MAX_SKIPPED_FRAME_FACTOR,
  OversizedFrame,
  rawCodec,
  type Decoder,
  type Listener,
} from '../../src/core/index.js';
import { rawPeer, whenClosed } from '../helpers/net.js';
import { acceptNext, frame, Inbox, recording, type RawConnection } from './support.js';

const rawDecoder = rawCodec.decoder;

const MiB = 1024 * 1024;

describe('inbound budget (limits.maxInboundBytes)', () => {
  const peers = 50;
  const budget = 64 * MiB;
  /** Each peer sends exactly this much of a frame (header included) and stalls. */
  const halfFrame = 2 * MiB;
  let listener: Listener<Buffer, Uint8Array>;
  const sockets: net.Socket[] = [];

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    listener.destroy();
    await listener.close();
  });

  it(`closes the connections holding the most with ERR_INBOUND_BUDGET when ${peers} peers stall mid-frame; the rest keep working`, async () => {
    const inboxes = new Map<RawConnection, Inbox>();
    listener = await listen<Buffer, Uint8Array>({
      ...rawCodec,
      reactor: recording(inboxes, true),
      limits: { maxFrameBytes: 4 * MiB, maxInboundBytes: budget },
    });
    const reasons: (Error | undefined)[] = [];
    let heldAtWorst = 0;
    const budgetClosed = new Set<RawConnection>();
    listener.on('connection', (connection) => {
      void connection.closed.then((reason) => {
        reasons.push(reason);
        if (reason instanceof InboundBudgetError) budgetClosed.add(connection);
        heldAtWorst = Math.max(heldAtWorst, listener.inbound.held);
      });
    });

    // A well-behaved client, connected first.
    const accepted = acceptNext(listener);
    const goodInbox = new Inbox();
    const good = await connect<Buffer, Uint8Array>({ ...rawCodec, port: listener.port, reactor: goodInbox.reactor });
    await accepted;

    // Half of a 4 MiB frame, the same bytes for every peer: 50 x 2 MiB = 100 MiB against 64 MiB.
    const half = Buffer.alloc(halfFrame, 0x61);
    half.writeUInt32BE(4 * MiB - 4);
    const expectedSurvivors = Math.floor(budget / halfFrame);
    const closedPeers: Promise<void>[] = [];
    for (let index = 0; index < peers; index++) {
      const socket = await rawPeer(listener.port);
      sockets.push(socket);
      closedPeers.push(whenClosed(socket));
      socket.write(half);
    }
    // Exactly the peers over budget are closed: the survivors then hold the budget exactly.
    await waitForCount(closedPeers, peers - expectedSurvivors);

    expect(budgetClosed.size).toBe(peers - expectedSurvivors);
    expect(reasons.every((reason) => reason instanceof InboundBudgetError)).toBe(true);
    expect(reasons[0]).toMatchObject({ code: 'ERR_INBOUND_BUDGET', limit: budget });
    expect(heldAtWorst).toBeLessThanOrEqual(budget);
    expect(listener.inbound.held).toBeLessThanOrEqual(budget);

    // Other connections keep working.
    good.send(Buffer.from('still here'));
    const [echoed] = await goodInbox.waitFor(1);
    expect(echoed?.toString()).toBe('still here');
    expect(listener.connections.size).toBe(1 + expectedSurvivors);
    good.destroy();
  });

  it('releases what a connection held when it closes', async () => {
    listener = await listen<Buffer, Uint8Array>({ ...rawCodec, reactor: recording(new Map()), limits: { maxInboundBytes: 16 * MiB } });
    const accepted = acceptNext(listener);
    const socket = await rawPeer(listener.port);
    sockets.push(socket);
    const connection = await accepted;
    const inbox = new Inbox();
    const other = await connect<Buffer, Uint8Array>({ ...rawCodec, port: listener.port, reactor: inbox.reactor });
    // A frame of 1 MiB, half sent, then a whole small one from another peer shows it was read.
    const partial = Buffer.alloc(MiB / 2);
    partial.writeUInt32BE(MiB);
    socket.write(partial);
    await until(() => listener.inbound.held === MiB / 2, connection);
    socket.destroy();
    await connection.closed;
    expect(listener.inbound.held).toBe(0);
    other.destroy();
  });

  it('defaults to 256 MiB, or 2 x maxFrameBytes when that is more, and refuses less than maxFrameBytes', async () => {
    listener = await listen<Buffer, Uint8Array>({ ...rawCodec, reactor: recording(new Map()) });
    expect(listener.inbound.limit).toBe(256 * MiB);
    listener.destroy();
    await listener.close();
    listener = await listen<Buffer, Uint8Array>({ ...rawCodec, reactor: recording(new Map()), limits: { maxFrameBytes: 512 * MiB } });
    expect(listener.inbound.limit).toBe(1024 * MiB);
    await expect(listen({ ...rawCodec, reactor: recording(new Map()), limits: { maxFrameBytes: 2 * MiB, maxInboundBytes: MiB } })).rejects.toThrow(
      /maxInboundBytes/,
    );
  });
});

describe('frames over maxFrameBytes', () => {
  /** Raw frames whose body starts with a u32 id. */
  const idDecoder: Decoder<Buffer> = {
    ...rawDecoder,
    peekId: (buffer, start, end) => (end - start >= 8 ? buffer.readUInt32BE(start + 4) : undefined),
  };
  let listener: Listener<Buffer, Uint8Array>;
  const skipped: OversizedFrame[] = [];
  const received: Buffer[] = [];

  beforeEach(async () => {
    skipped.length = 0;
    received.length = 0;
    listener = await listen<Buffer, Uint8Array>({
      encoder: rawCodec.encoder,
      decoder: idDecoder,
      // A budget of twice the frame limit: were a skipped body buffered, the budget would close the connection.
      limits: { maxFrameBytes: 64 * 1024, maxInboundBytes: 128 * 1024 },
      reactor: () => ({
        onMessage: (message) => received.push(message),
        onFrameSkipped: (oversized) => skipped.push(oversized),
      }),
    });
  });

  afterEach(async () => {
    listener.destroy();
    await listener.close();
  });

  function body(id: number, size: number): Buffer {
    const bytes = Buffer.alloc(size, 0x62);
    bytes.writeUInt32BE(id);
    return bytes;
  }

  it('are skipped unbuffered and reported with their id; the connection reads on', async () => {
    const accepted = acceptNext(listener);
    const inbox = new Inbox();
    const client = await connect<Buffer, Uint8Array>({ ...rawCodec, port: listener.port, reactor: inbox.reactor, limits: { maxFrameBytes: 16 * MiB } });
    const connection = await accepted;
    client.send(body(1, 100));
    client.send(body(2, 512 * 1024));
    client.send(body(3, 100));
    await until(() => received.length === 2, connection);

    expect(received.map((message) => message.readUInt32BE(0))).toEqual([1, 3]);
    expect(skipped).toEqual([new OversizedFrame(4 + 512 * 1024, 64 * 1024, 2)]);
    expect(connection.state).toBe('open');
    expect(listener.inbound.held).toBe(0);
    client.destroy();
  });

  it(`close the connection at the ${MAX_OVERSIZED_IN_A_ROW}th in a row, with ERR_FRAME_TOO_LARGE`, async () => {
    const accepted = acceptNext(listener);
    const client = await connect<Buffer, Uint8Array>({ ...rawCodec, port: listener.port, reactor: new Inbox().reactor, limits: { maxFrameBytes: 16 * MiB } });
    const connection = await accepted;
    const big = body(9, 100 * 1024);
    for (let index = 0; index < MAX_OVERSIZED_IN_A_ROW; index++) client.send(big);
    const reason = await connection.closed;
    expect(reason).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' });
    expect(skipped.length).toBe(MAX_OVERSIZED_IN_A_ROW - 1);
    client.destroy();
  });

  it(`close the connection at once when over ${MAX_SKIPPED_FRAME_FACTOR} x maxFrameBytes (taken for broken framing)`, async () => {
    const accepted = acceptNext(listener);
    const socket = await rawPeer(listener.port);
    const connection = await accepted;
    // The header alone: no id is needed to refuse it.
    socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    expect(await connection.closed).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' });
    expect(skipped).toEqual([]);
    socket.destroy();
  });

  it('close the connection when the reactor has no onFrameSkipped', async () => {
    const plain = await listen<Buffer, Uint8Array>({ encoder: rawCodec.encoder, decoder: idDecoder, limits: { maxFrameBytes: 1024 }, reactor: recording(new Map()) });
    const accepted = acceptNext(plain);
    const socket = await rawPeer(plain.port);
    const connection = await accepted;
    socket.write(frame(body(1, 2000)));
    expect(await connection.closed).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' });
    socket.destroy();
    await plain.close();
  });
});

/** Resolves once `count` of `promises` have resolved. */
function waitForCount(promises: readonly Promise<void>[], count: number): Promise<void> {
  return new Promise((resolve) => {
    let done = 0;
    if (count === 0) resolve();
    for (const promise of promises) {
      void promise.then(() => {
        if (++done === count) resolve();
      });
    }
  });
}

/**
 * Resolves once `condition` holds, checked after each chunk `connection` reads from its socket;
 * rejects if the connection closes first.
 */
function until(condition: () => boolean, connection: RawConnection): Promise<void> {
  if (condition()) return Promise.resolve();
  const socket = connection.unwrap();
  return new Promise((resolve, reject) => {
    // Runs after the connection's own 'data' listener (added first) has handled the chunk.
    const check = (): void => {
      if (!condition()) return;
      socket.off('data', check);
      resolve();
    };
    socket.on('data', check);
    void connection.closed.then((reason) => reject(new Error('connection closed first', { cause: reason })));
  });
}
