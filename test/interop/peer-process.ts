import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Codec } from '../../src/core/codec.js';
import type { RpcFrame } from '../../src/rpc/index.js';
import { msgpackCodec } from '../../src/rpc/wire/msgpack-codec.js';
import { protobufCodec } from '../../src/rpc/wire/protobuf-codec.js';
import { deferred, within } from '../helpers/async.js';

/** One JSON line the peer printed. */
export type PeerLine = Record<string, unknown>;

/** The two stock protosocket codecs, and ours that speak each. */
export const CODECS: readonly { rust: 'prost' | 'messagepack'; codec: Codec<RpcFrame, RpcFrame> }[] = [
  { rust: 'prost', codec: protobufCodec },
  { rust: 'messagepack', codec: msgpackCodec },
];

/** Safety net for waits on the peer: a broken build fails with a message, not at Jest's timeout. */
const WAIT_MS = 20_000;

function peerBinary(): string {
  const binary = process.env.PROTOSOCKET_PEER;
  if (binary === undefined || binary === '') throw new Error('PROTOSOCKET_PEER is not set: run the suite with npm run test:interop');
  return binary;
}

/**
 * test/interop/peer as a child process: its stdout JSON lines, kept in order and waited on by
 * predicate, and its stdin for the "go on" lines its stalling scenarios wait for.
 */
export class PeerProcess {
  readonly lines: PeerLine[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private readonly waiters: { match: (line: PeerLine) => boolean; resolve: (line: PeerLine) => void }[] = [];
  private stderr = '';

  private constructor(args: string[]) {
    this.child = spawn(peerBinary(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = deferred<number | null>();
    this.exited = exited.promise;
    this.child.on('exit', (code) => exited.resolve(code));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    createInterface({ input: this.child.stdout! }).on('line', (text) => this.onLine(text));
  }

  /** A peer server; resolves once it listens. */
  static async server(codec: string): Promise<{ peer: PeerProcess; port: number }> {
    const peer = new PeerProcess(['server', '--codec', codec]);
    const listening = await peer.waitFor((line) => line.event === 'listening', 'the peer server to listen');
    const port = Number(String(listening.addr).split(':').pop());
    return { peer, port };
  }

  /** A peer client running `scenarios` against 127.0.0.1:`port`. */
  static client(codec: string, port: number, scenarios: string[], firstId?: number): PeerProcess {
    const args = ['client', '--codec', codec, '--addr', `127.0.0.1:${port}`];
    if (firstId !== undefined) args.push('--first-id', String(firstId));
    return new PeerProcess([...args, ...scenarios]);
  }

  /** The first line (already printed, or still to come) that `match` accepts. */
  waitFor(match: (line: PeerLine) => boolean, what: string): Promise<PeerLine> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    const found = deferred<PeerLine>();
    this.waiters.push({ match, resolve: found.resolve });
    return within(found.promise, WAIT_MS, `${what} (peer stderr: ${this.stderr.slice(-2000)})`);
  }

  /** The result line of a client scenario. */
  scenario(name: string): Promise<PeerLine> {
    return this.waitFor((line) => line.scenario === name, `scenario ${name}`);
  }

  /** Writes one line to the peer's stdin (a stalled scenario goes on). */
  go(): void {
    this.child.stdin?.write('go\n');
  }

  /** Ends the process (SIGTERM) and waits for it. Idempotent. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }

  private onLine(text: string): void {
    let line: PeerLine;
    try {
      line = JSON.parse(text) as PeerLine;
    } catch {
      return;
    }
    this.lines.push(line);
    for (let index = this.waiters.length - 1; index >= 0; index--) {
      const waiter = this.waiters[index]!;
      if (waiter.match(line)) {
        this.waiters.splice(index, 1);
        waiter.resolve(line);
      }
    }
  }
}

/**
 * Resolves once `read()` has not changed for `quietMs`: a producer that stopped (held back by a
 * full connection). A lower bound on time, never an upper one.
 */
export async function whenStill(read: () => number, quietMs: number): Promise<number> {
  let last = read();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    const now = read();
    if (now === last) return now;
    last = now;
  }
}
