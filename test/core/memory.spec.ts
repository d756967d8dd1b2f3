import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ServerTCP } from '@nestjs/microservices';
import { listen, rawCodec, type Listener } from '../../src/core/index.js';
import { rawPeer } from '../helpers/net.js';

/**
 * What a server holds for peers that stall mid-frame and for idle peers: ArrayBuffers (where
 * socket chunks and frame buffers live) and RSS, for this transport next to Nest's
 * Transport.TCP server and a bare `net` server as the floor. Clients run in the same process,
 * identically for the three servers, so the differences are the servers'. The numbers are
 * printed; the assertions are loose bounds that the old behaviour (a buffer of the announced
 * size per split frame, a 64 KiB outbound scratch per connection) breaks by far.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const STALLED = 200;
/** Each stalled peer announces a 16 MiB frame and sends this much of it. */
const SENT_OF_FRAME = 64 * KiB;
const IDLE = 2000;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

interface Sample {
  arrayBuffers: number;
  heapUsed: number;
  rss: number;
}

function sample(): Sample {
  gc();
  gc();
  const usage = process.memoryUsage();
  return { arrayBuffers: usage.arrayBuffers, heapUsed: usage.heapUsed, rss: usage.rss };
}

/** A server under test: where peers connect, how to know it has read what they sent, how to close it. */
interface Subject {
  port: number;
  /** Resolves once the server side has read `bytes` in total from its peers. */
  received(bytes: number): Promise<void>;
  close(): Promise<void>;
}

/** Counts what a net.Server's sockets read (a passive 'data' listener beside the server's own). */
function countReads(server: net.Server): (bytes: number) => Promise<void> {
  let total = 0;
  const waiters: { bytes: number; resolve: () => void }[] = [];
  server.on('connection', (socket: net.Socket) => {
    socket.on('data', (chunk: Buffer) => {
      total += chunk.length;
      for (const waiter of waiters.filter((candidate) => total >= candidate.bytes)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    });
  });
  return (bytes) => (total >= bytes ? Promise.resolve() : new Promise((resolve) => waiters.push({ bytes, resolve })));
}

async function protosocketServer(): Promise<Subject> {
  // A reactor that keeps nothing, so what is measured is the transport's.
  const listener: Listener<Buffer, Uint8Array> = await listen<Buffer, Uint8Array>({ ...rawCodec, reactor: () => ({ onMessage() {} }) });
  return {
    port: listener.port as number,
    received: countReads(listener.unwrap() as net.Server),
    close: async () => {
      listener.destroy();
      await listener.close();
    },
  };
}

async function nestTcpServer(): Promise<Subject> {
  const server = new ServerTCP({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.listen(() => resolve()));
  const netServer = server.unwrap<net.Server>();
  return {
    port: (netServer.address() as net.AddressInfo).port,
    received: countReads(netServer),
    close: async () => {
      await new Promise<void>((resolve) => netServer.close(() => resolve()));
    },
  };
}

async function bareNetServer(): Promise<Subject> {
  const server = net.createServer((socket) => socket.resume());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: countReads(server),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The first bytes of a 16 MiB frame, in each server's framing. */
const stalledFrame: Record<string, Buffer> = {
  protosocket: (() => {
    const bytes = Buffer.alloc(4 + SENT_OF_FRAME, 0x61);
    bytes.writeUInt32BE(16 * MiB - 4);
    return bytes;
  })(),
  // Nest TCP: `<length>#<JSON text>`, the length in characters.
  'nest tcp': Buffer.concat([Buffer.from(`${16 * MiB}#"`), Buffer.alloc(SENT_OF_FRAME, 0x61)]),
  'net (floor)': Buffer.alloc(4 + SENT_OF_FRAME, 0x61),
};

const subjects: [string, () => Promise<Subject>][] = [
  ['protosocket', protosocketServer],
  ['nest tcp', nestTcpServer],
  ['net (floor)', bareNetServer],
];

interface Row extends Sample {
  server: string;
}

async function measure(open: () => Promise<Subject>, load: (subject: Subject, peers: net.Socket[]) => Promise<void>): Promise<Sample> {
  const subject = await open();
  const peers: net.Socket[] = [];
  try {
    const before = sample();
    await load(subject, peers);
    const after = sample();
    return { arrayBuffers: after.arrayBuffers - before.arrayBuffers, heapUsed: after.heapUsed - before.heapUsed, rss: after.rss - before.rss };
  } finally {
    for (const peer of peers) peer.destroy();
    await subject.close();
  }
}

const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

function report(title: string, rows: readonly Row[]): void {
  const lines = rows.map(
    (row) => `  ${row.server.padEnd(12)} ArrayBuffers ${mib(row.arrayBuffers).padStart(10)}   heap ${mib(row.heapUsed).padStart(10)}   RSS ${mib(row.rss).padStart(10)}`,
  );
  console.log(`${title}\n${lines.join('\n')}`);
}

describe('server memory against Nest TCP', () => {
  it(`${STALLED} peers that each send 64 KiB of a 16 MiB frame and stall`, async () => {
    const rows: Row[] = [];
    for (const [server, open] of subjects) {
      const delta = await measure(open, async (subject, peers) => {
        const bytes = stalledFrame[server] as Buffer;
        for (let index = 0; index < STALLED; index++) {
          const peer = await rawPeer(subject.port);
          peers.push(peer);
          peer.write(bytes);
        }
        await subject.received(STALLED * bytes.length);
      });
      rows.push({ server, ...delta });
    }
    report(`Stalled half-frames: ${STALLED} peers x (header + 64 KiB of a 16 MiB frame), server-side growth`, rows);
    const ours = rows[0] as Row;
    // What arrived (12.5 MiB) plus slack; the announced size would be 3.2 GiB.
    expect(ours.arrayBuffers).toBeLessThan(STALLED * 256 * KiB);
  });

  it(`${IDLE} idle connections`, async () => {
    const rows: Row[] = [];
    for (const [server, open] of subjects) {
      const delta = await measure(open, async (subject, peers) => {
        const accepted = subject.received(0);
        for (let index = 0; index < IDLE; index++) peers.push(await rawPeer(subject.port));
        await accepted;
      });
      rows.push({ server, ...delta });
    }
    report(`Idle connections: ${IDLE}, server and clients in one process`, rows);
    const ours = rows[0] as Row;
    // No per-connection buffers: a 64 KiB scratch each would be 125 MiB.
    expect(ours.arrayBuffers).toBeLessThan(IDLE * 4 * KiB);
  });
});
