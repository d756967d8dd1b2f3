import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { jest } from '@jest/globals';
import {
  Connection,
  ConnectionClosedError,
  EncodeError,
  FrameTimeoutError,
  FrameTooLargeError,
  NEED_MORE,
  ProtocolError,
  QueueFullError,
  ReactorError,
  connect,
  listen,
  rawCodec,
  type Decoder,
  type Encoder,
} from '../../src/core/index.js';
import { deferred, nextTurn } from '../helpers/async.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { Cleanup } from '../helpers/cleanup.js';
import { thrownBy } from '../helpers/errors.js';
import { receiveBytes, whenClosed } from '../helpers/net.js';
import {
  Inbox,
  expectNumbered,
  frame,
  numbered,
  rawPair,
  rawPeerOf,
  recording,
  type RawConnection,
} from './support.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * What a stream's writable side hands to its implementation: `_write` per chunk, `_writev` per
 * gathered batch (entries are the chunks themselves, or `{ chunk }` when encodings are mixed).
 */
interface WritableInternals {
  _write(chunk: unknown, encoding: unknown, callback: unknown): void;
  _writev(entries: unknown[], callback: unknown): void;
}

const chunkOf = (entry: unknown): unknown => (ArrayBuffer.isView(entry) ? entry : (entry as { chunk: unknown }).chunk);

function spyOnWrites(socket: Duplex) {
  const internals = socket as unknown as WritableInternals;
  return {
    write: jest.spyOn(socket, 'write'),
    writeOne: jest.spyOn(internals, '_write'),
    writeMany: jest.spyOn(internals, '_writev'),
  };
}

const cleanup = new Cleanup();
afterEach(async () => {
  jest.restoreAllMocks();
  await cleanup.run();
});

describe('Connection', () => {
  describe('write batching', () => {
    it('sends 1,000 messages from one tick in a handful of socket writes', async () => {
      const pair = await rawPair();
      cleanup.add(pair.dispose);
      const spies = spyOnWrites(pair.client.unwrap());
      for (let index = 0; index < 1000; index++) pair.client.send(numbered(index));
      expect(spies.write).not.toHaveBeenCalled();

      expectNumbered(await pair.serverInbox.waitFor(1000), 1000);
      expect(spies.write.mock.calls.length).toBeLessThan(10);
      expect(spies.writeOne.mock.calls.length + spies.writeMany.mock.calls.length).toBeLessThan(10);
    });

    it('hands large payloads to the socket by reference, in one gathered write', async () => {
      const pair = await rawPair();
      cleanup.add(pair.dispose);
      const spies = spyOnWrites(pair.client.unwrap());
      const payloads = [1, 2, 3, 4].map((fill) => Buffer.alloc(20 * KiB, fill));
      for (const payload of payloads) pair.client.send(payload);

      const received = await pair.serverInbox.waitFor(4);
      expect(received.map((message, index) => message.equals(payloads[index]!))).toEqual([true, true, true, true]);
      expect(spies.writeOne).not.toHaveBeenCalled();
      expect(spies.writeMany).toHaveBeenCalledTimes(1);
      const gathered = spies.writeMany.mock.calls[0]![0].map(chunkOf);
      for (const payload of payloads) expect(gathered).toContain(payload);
    });

    it('flushes a lone message on the same tick, before any setImmediate callback', async () => {
      const pair = await rawPair({ echo: true });
      cleanup.add(pair.dispose);
      const { write } = spyOnWrites(pair.client.unwrap());
      // Queued before the send, so it runs before anything the send could defer to setImmediate.
      const writesBeforeImmediate = new Promise<number>((resolve) => setImmediate(() => resolve(write.mock.calls.length)));
      pair.client.send(Buffer.from('ping'));
      expect(write).not.toHaveBeenCalled();

      expect(await writesBeforeImmediate).toBe(1);
      const [echoed] = await pair.clientInbox.waitFor(1);
      expect(echoed!.toString()).toBe('ping');
    });

    it('sends a batch over flushBytes at once, without waiting for the tick', async () => {
      const pair = await rawPair({ client: { limits: { flushBytes: 4 * KiB } } });
      cleanup.add(pair.dispose);
      const { write } = spyOnWrites(pair.client.unwrap());
      pair.client.send(Buffer.alloc(3 * KiB));
      expect(write).not.toHaveBeenCalled();
      pair.client.send(Buffer.alloc(3 * KiB));
      expect(write).toHaveBeenCalledTimes(1);
      await pair.serverInbox.waitFor(2);
    });
  });

  describe('inbound protection', () => {
    it('closes a connection whose peer announces a frame over maxFrameBytes, and only that one', async () => {
      const inboxes = new Map<RawConnection, Inbox>();
      const listener = await listen<Buffer, Uint8Array>({ ...rawCodec, reactor: recording(inboxes, true), limits: { maxFrameBytes: MiB } });
      cleanup.add(() => listener.close());
      const goodInbox = new Inbox();
      const good = await connect<Buffer, Uint8Array>({ ...rawCodec, port: listener.port, reactor: goodInbox.reactor });
      const { peer, accepted: bad } = await rawPeerOf(listener, cleanup);

      peer.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
      const reason = await bad.closed;
      expect(reason).toBeInstanceOf(FrameTooLargeError);
      expect(reason).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' });
      expect(await inboxes.get(bad)!.closed).toBe(reason);
      expect(bad.state).toBe('closed');
      await whenClosed(peer);

      good.send(Buffer.from('still served'));
      const [echoed] = await goodInbox.waitFor(1);
      expect(echoed!.toString()).toBe('still served');
      expect(listener.connections.size).toBe(1);
      expect(await good.close()).toBeUndefined();
    });

    it('closes a connection whose peer stalls mid-frame with ERR_FRAME_TIMEOUT, after delivering the complete frames', async () => {
      const inboxes = new Map<RawConnection, Inbox>();
      const listener = await listen<Buffer, Uint8Array>({ ...rawCodec, reactor: recording(inboxes, true), limits: { frameTimeoutMs: 50 } });
      cleanup.add(() => listener.close());
      const { peer, accepted: stalled } = await rawPeerOf(listener, cleanup);

      // One whole frame, then 10 bytes of a 100-byte one, and nothing more.
      peer.write(Buffer.concat([frame('whole'), frame(Buffer.alloc(100)).subarray(0, 14)]));
      const reason = await stalled.closed;
      expect(reason).toBeInstanceOf(FrameTimeoutError);
      expect(reason).toMatchObject({ code: 'ERR_FRAME_TIMEOUT' });
      expect(inboxes.get(stalled)!.messages.map(String)).toEqual(['whole']);
      peer.resume(); // read the echo, and so see the close
      await whenClosed(peer);

      // The timeout concerns stalls only: a connection that completes its frames stays up.
      const goodInbox = new Inbox();
      const good = await connect<Buffer, Uint8Array>({ ...rawCodec, port: listener.port, reactor: goodInbox.reactor });
      good.send(Buffer.from('served'));
      const [echoed] = await goodInbox.waitFor(1);
      expect(echoed!.toString()).toBe('served');
      expect(await good.close()).toBeUndefined();
    });

    it('closes with ERR_PROTOCOL when the decoder rejects garbage, after delivering the valid frames before it', async () => {
      // Frames are a magic byte 0xa5, a u8 body length, then the body.
      const magicDecoder: Decoder<Buffer> = {
        frameSize(buffer, start, end) {
          if (buffer[start] !== 0xa5) throw new Error('bad magic byte');
          return end - start < 2 ? NEED_MORE : 2 + buffer[start + 1]!;
        },
        decode: (buffer, start, end) => buffer.subarray(start + 2, end),
      };
      const inboxes = new Map<RawConnection, Inbox>();
      const listener = await listen<Buffer, Uint8Array>({ ...rawCodec, decoder: magicDecoder, reactor: recording(inboxes) });
      cleanup.add(() => listener.close());
      const { peer, accepted: connection } = await rawPeerOf(listener, cleanup);

      peer.write(Buffer.concat([Buffer.from([0xa5, 2]), Buffer.from('hi'), Buffer.from('GET / HTTP/1.1\r\n\r\n')]));
      const reason = await connection.closed;

      expect(reason).toBeInstanceOf(ProtocolError);
      expect(reason).toMatchObject({ code: 'ERR_PROTOCOL', cause: new Error('bad magic byte') });
      expect(inboxes.get(connection)!.messages.map(String)).toEqual(['hi']);
      await whenClosed(peer);
    });
  });

  describe('backpressure', () => {
    const highWaterMark = 256 * KiB;
    const maxQueuedBytes = MiB;
    const frameBytes = 64 * KiB + 4;

    /** A listener whose one connection goes to a raw peer that reads nothing until resumed. */
    async function pausedPeer() {
      const listener = await listen<Buffer, Uint8Array>({
        ...rawCodec,
        reactor: () => ({ onMessage() {} }),
        limits: { highWaterMark, maxQueuedBytes },
      });
      cleanup.add(() => listener.close());
      const { peer, accepted: server } = await rawPeerOf(listener, cleanup);
      peer.pause();
      return { peer, server };
    }

    it('returns false at the high-water mark and refuses at maxQueuedBytes when the peer never reads', async () => {
      const { peer, server } = await pausedPeer();
      const before = process.memoryUsage();
      let sent = 0;
      let sawFalse = false;
      let maxQueued = 0;
      let refusal: unknown;
      // Keeps sending after `false`, as a producer ignoring backpressure would. The kernel's
      // socket buffers take some megabytes first; 4,096 frames (256 MiB) is far beyond that.
      for (let index = 0; index < 4096 && refusal === undefined; index++) {
        try {
          const belowHighWaterMark = server.send(Buffer.alloc(64 * KiB, index & 0xff));
          sent++;
          if (!belowHighWaterMark && !sawFalse) {
            sawFalse = true;
            expect(server.queuedBytes).toBeGreaterThanOrEqual(highWaterMark);
            expect(server.writable).toBe(false);
          }
          maxQueued = Math.max(maxQueued, server.queuedBytes);
        } catch (err) {
          refusal = err;
        }
      }
      const after = process.memoryUsage();

      expect(sawFalse).toBe(true);
      expect(refusal).toBeInstanceOf(QueueFullError);
      expect(refusal).toMatchObject({ code: 'ERR_QUEUE_FULL' });
      expect(maxQueued).toBeLessThan(maxQueuedBytes + frameBytes);
      expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(64 * MiB);
      expect(after.rss - before.rss).toBeLessThan(64 * MiB);
      expect(server.state).toBe('open');

      // Once the peer reads, the queue drains and every accepted frame arrives.
      const drainEvent = once(server, 'drain');
      const drained = server.waitForDrain();
      await receiveBytes(peer, sent * frameBytes);
      await drained;
      await drainEvent;
      expect(server.queuedBytes).toBeLessThan(highWaterMark);
      expect(server.writable).toBe(true);

      peer.end();
      expect(await server.closed).toBeUndefined();
      await whenClosed(peer);
    });

    it('a producer that waits for drain keeps the queue near the high-water mark and delivers everything', async () => {
      const { peer, server } = await pausedPeer();
      const frames = 200;
      const received = receiveBytes(peer, frames * frameBytes);
      let drains = 0;
      server.on('drain', () => drains++);
      let maxQueued = 0;
      for (let index = 0; index < frames; index++) {
        const belowHighWaterMark = server.send(Buffer.alloc(64 * KiB, index & 0xff));
        maxQueued = Math.max(maxQueued, server.queuedBytes);
        if (!belowHighWaterMark) await server.waitForDrain();
      }
      await received;

      expect(drains).toBeGreaterThan(0);
      expect(maxQueued).toBeLessThan(highWaterMark + frameBytes);
      peer.end();
      expect(await server.closed).toBeUndefined();
    });

    it('destroy() drops a queue stuck behind backpressure', async () => {
      const { peer, server } = await pausedPeer();
      let sent = 0;
      let belowHighWaterMark = true;
      while (belowHighWaterMark && sent < 4096) {
        belowHighWaterMark = server.send(Buffer.alloc(64 * KiB));
        sent++;
      }
      expect(belowHighWaterMark).toBe(false);

      server.destroy();
      const received = await new Promise<number>((resolve) => {
        let total = 0;
        peer.on('data', (chunk: Buffer) => (total += chunk.length));
        peer.once('close', () => resolve(total));
        peer.resume();
      });
      expect(received).toBeLessThan(sent * frameBytes);
      expect(await server.closed).toBeUndefined();
    });

    it('waitForDrain resolves at once below the high-water mark and rejects once closed', async () => {
      const pair = await rawPair();
      await expect(pair.client.waitForDrain()).resolves.toBeUndefined();
      await pair.dispose();
      await expect(pair.client.waitForDrain()).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
    });

    it('waitForDrain resolves when the socket took the batch without backpressure of its own', async () => {
      // 2 KiB is over this connection's high-water mark but under the socket's (16 KiB and
      // up), so the socket never reports backpressure and never emits 'drain' itself.
      const pair = await rawPair({ client: { limits: { highWaterMark: KiB } } });
      cleanup.add(pair.dispose);
      const drainEvent = once(pair.client, 'drain');
      expect(pair.client.send(Buffer.alloc(2 * KiB))).toBe(false);
      await pair.client.waitForDrain();
      await drainEvent;
      expect(pair.client.writable).toBe(true);
      await pair.serverInbox.waitFor(1);
    });
  });

  describe('close and destroy', () => {
    it('close() writes every queued frame, in order, before ending the stream', async () => {
      const pair = await rawPair();
      cleanup.add(pair.dispose);
      for (let index = 0; index < 10_000; index++) pair.client.send(numbered(index, 64));
      const closing = pair.client.close();

      expect(pair.client.state).toBe('closing');
      expect(pair.client.close()).toBe(closing);
      expect(() => pair.client.send(numbered(0))).toThrow(ConnectionClosedError);
      expect(await closing).toBeUndefined();
      expect(pair.client.state).toBe('closed');
      // The server saw every frame, then the end of the stream (a clean close).
      expect(await pair.server.closed).toBeUndefined();
      expectNumbered(pair.serverInbox.messages, 10_000, 64);
    });

    it('destroy() drops what is queued and closes at once with the reason', async () => {
      const pair = await rawPair();
      cleanup.add(pair.dispose);
      for (let index = 0; index < 100; index++) pair.client.send(numbered(index));
      const reason = new Error('aborted by test');
      pair.client.destroy(reason);
      pair.client.destroy(new Error('second call is ignored'));

      expect(pair.client.state).toBe('closing');
      expect(pair.client.close()).toBe(pair.client.closed);
      const refused = thrownBy(() => pair.client.send(numbered(0)));
      expect(refused).toBeInstanceOf(ConnectionClosedError);
      expect(refused).toMatchObject({ code: 'ERR_CONNECTION_CLOSED', cause: reason });

      expect(await pair.client.closed).toBe(reason);
      expect(await pair.clientInbox.closed).toBe(reason);
      expect(pair.client.state).toBe('closed');
      await pair.server.closed;
      expect(pair.serverInbox.messages).toEqual([]);
    });

    it('a peer ending its side ends ours after what we queued', async () => {
      const pair = await rawPair();
      cleanup.add(pair.dispose);
      pair.server.send(Buffer.from('last words'));
      await pair.client.close();
      expect(await pair.server.closed).toBeUndefined();
      expect(pair.clientInbox.messages.map(String)).toEqual(['last words']);
    });

    it('a peer that ends its side still receives what was queued behind backpressure', async () => {
      const pair = await rawPair({ server: { limits: { flushBytes: 16 * KiB } } });
      cleanup.add(pair.dispose);
      const socket = pair.server.unwrap();
      pair.client.pauseReading();
      // 8 MiB in one tick: the first write blocks the socket; on its 'drain' the connection
      // hands the socket the rest, more than a peer that does not read lets through.
      for (let index = 0; index < 2000; index++) pair.server.send(numbered(index, 4 * KiB));
      await once(socket, 'drain');
      // These wait in the connection's own queue, behind the blocked socket.
      for (let index = 2000; index < 2100; index++) pair.server.send(numbered(index, 4 * KiB));

      const serverSawEnd = once(socket, 'end');
      const closing = pair.client.close();
      await serverSawEnd;
      expect(pair.server.queuedBytes).toBeGreaterThan(socket.writableLength);

      // Half-open: the server's side stays writable until its queue is written.
      pair.client.resumeReading();
      expect(await closing).toBeUndefined();
      expect(await pair.server.closed).toBeUndefined();
      expectNumbered(pair.clientInbox.messages, 2100, 4 * KiB);
    });

    it('closes at once over a stream that was already destroyed', async () => {
      const [local, remote] = duplexPair();
      local.destroy();
      await once(local, 'close');
      const inbox = new Inbox();
      const connection = new Connection<Buffer, Uint8Array>(local, { ...rawCodec, reactor: inbox.reactor });

      expect(await connection.closed).toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
      expect(await inbox.closed).toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
      expect(connection.state).toBe('closed');
      expect(remote.destroyed).toBe(true);
    });
  });

  describe('reading', () => {
    it('pauseReading() stops delivery between two messages until resumeReading()', async () => {
      const [local, remote] = duplexPair();
      const received: string[] = [];
      const firstDelivered = deferred();
      const allDelivered = deferred();
      const connection = new Connection<Buffer, Uint8Array>(local, {
        ...rawCodec,
        reactor: (self) => ({
          onMessage(message: Buffer) {
            received.push(message.toString());
            if (received.length === 1) {
              self.pauseReading();
              firstDelivered.resolve();
            }
            if (received.length === 100) allDelivered.resolve();
          },
        }),
      });
      cleanup.add(async () => {
        connection.destroy();
        await connection.closed;
      });
      const texts = Array.from({ length: 100 }, (_, index) => `message ${index}`);
      // Fifty frames in one chunk: the reactor pauses inside the first.
      remote.write(Buffer.concat(texts.slice(0, 50).map((text) => frame(text))));
      await firstDelivered.promise;
      expect(connection.readingPaused).toBe(true);
      expect(local.isPaused()).toBe(true);

      // More bytes arrive while paused; several loop turns pass: nothing is delivered.
      remote.write(Buffer.concat(texts.slice(50).map((text) => frame(text))));
      for (let turn = 0; turn < 5; turn++) await nextTurn();
      expect(received).toEqual(['message 0']);

      connection.resumeReading();
      await allDelivered.promise;
      expect(received).toEqual(texts);
      expect(connection.readingPaused).toBe(false);
    });

    it('destroys the connection with ERR_REACTOR when the reactor throws', async () => {
      const boom = new Error('reactor bug');
      const onMessage = jest.fn<(message: Buffer) => void>(() => {
        throw boom;
      });
      const pair = await rawPair({ server: { reactor: () => ({ onMessage }) } });
      cleanup.add(pair.dispose);
      pair.client.send(Buffer.from('one'));
      pair.client.send(Buffer.from('two'));
      const reason = await pair.server.closed;

      expect(reason).toBeInstanceOf(ReactorError);
      expect(reason).toMatchObject({ code: 'ERR_REACTOR', cause: boom });
      expect(onMessage).toHaveBeenCalledTimes(1);
      await pair.client.closed;
    });
  });

  describe('send failures leave the connection usable', () => {
    it('an encoder that throws midway gives ERR_ENCODE and queues nothing of that message', async () => {
      // Writes the frame's header and body, then refuses bodies that start with 0xee.
      const picky: Encoder<Uint8Array> = {
        encode(message, out) {
          out.beginFrame(4);
          out.writeBytes(message);
          if (message[0] === 0xee) throw new Error('refused');
          out.endFrame((buffer, offset, length) => buffer.writeUInt32BE(length, offset));
        },
      };
      const pair = await rawPair({ client: { encoder: picky } });
      cleanup.add(pair.dispose);
      pair.client.send(Buffer.from('first'));
      const queued = pair.client.queuedBytes;
      for (const bad of [Buffer.from([0xee, 1, 2, 3]), Buffer.alloc(64 * KiB, 0xee)]) {
        const error = thrownBy(() => pair.client.send(bad));
        expect(error).toBeInstanceOf(EncodeError);
        expect(error).toMatchObject({ code: 'ERR_ENCODE', cause: new Error('refused') });
        expect(pair.client.queuedBytes).toBe(queued);
      }
      pair.client.send(Buffer.from('second'));

      // Closing flushes everything: a partial frame would garble what the server reads.
      await pair.client.close();
      expect(await pair.server.closed).toBeUndefined();
      expect(pair.serverInbox.messages.map(String)).toEqual(['first', 'second']);
    });

    it('a message encoding to more than maxFrameBytes gives ERR_FRAME_TOO_LARGE', async () => {
      const pair = await rawPair({ client: { limits: { maxFrameBytes: 1024 } } });
      cleanup.add(pair.dispose);
      const error = thrownBy(() => pair.client.send(Buffer.alloc(1021)));
      expect(error).toBeInstanceOf(FrameTooLargeError);
      expect(error).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', size: 1025, limit: 1024 });
      expect(pair.client.queuedBytes).toBe(0);

      pair.client.send(Buffer.alloc(1020, 1));
      await pair.client.close();
      expect(await pair.server.closed).toBeUndefined();
      expect(pair.serverInbox.messages).toEqual([Buffer.alloc(1020, 1)]);
    });
  });

  it('carries messages both ways over an in-memory stream pair', async () => {
    const [left, right] = duplexPair();
    const leftInbox = new Inbox();
    const rightInbox = new Inbox();
    const a = new Connection<Buffer, Uint8Array>(left, { ...rawCodec, reactor: leftInbox.reactor });
    const b = new Connection<Buffer, Uint8Array>(right, { ...rawCodec, reactor: rightInbox.reactor });

    a.send(Buffer.from('to b'));
    b.send(Buffer.from('to a'));
    expect((await rightInbox.waitFor(1)).map(String)).toEqual(['to b']);
    expect((await leftInbox.waitFor(1)).map(String)).toEqual(['to a']);

    expect(await a.close()).toBeUndefined();
    expect(await b.closed).toBeUndefined();
  });
});
