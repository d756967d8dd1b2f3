/**
 * What every benchmarked transport provides (one file per transport in ../drivers/). A driver
 * is loaded in two processes: the server process calls `startServer`, the load generator calls
 * `connect`. The shared workload runner (workloads.ts) only talks to `DriverClient`, so every
 * transport runs exactly the same loops.
 *
 * Server behaviour, the same for every driver:
 *   echo    request -> reply with the request's data (a JSON value, or raw bytes where the
 *                      transport has them)
 *   stream  request -> `count` items (`hooks.streamItems(count)`), then the end of the call
 *   count   event   -> no reply; the server counts it (`hooks.event()`)
 */
import type { Server } from 'node:net';
import type { RpcCodec } from './codecs.js';
import type { CodecName } from './config.js';

export const ECHO = 'echo';
export const STREAM = 'stream';
export const COUNT = 'count';

/** Completion of one request: `err` is set when the call failed, else `reply` is what came back. */
export type Done = (err: unknown, reply?: unknown) => void;

/** Completion of a stream call. */
export type StreamDone = (err?: unknown) => void;

/** Counters the server process keeps; drivers call them from their handlers. */
export interface ServerHooks {
  /** One echo request handled. */
  request(): void;
  /** One event received. */
  event(): void;
  /** The items a stream call of `count` items sends (built once per count). */
  streamItems(count: number): readonly unknown[];
}

export interface DriverServer {
  readonly port: number;
  /** The listening socket, where the server process counts accepted connections (W7). */
  readonly netServer: Server;
  close(): Promise<void>;
}

/** Where a server process listens. */
export interface ServerAddress {
  host: string;
  port: number;
}

/** How a pair's server and clients are configured; the same on both ends. */
export interface DriverOptions {
  /** The wire codec; only the protosocket drivers take another than JSON. */
  codecName: CodecName;
  codec: RpcCodec;
}

export interface DriverClient {
  /** One echo round trip; `done` runs once the reply arrived. */
  request(data: unknown, done: Done): void;
  /** One call streaming `count` items; `onItem` runs per item, `done` at the end. */
  stream(count: number, onItem: () => void, done: StreamDone): void;
  /**
   * Sends one event. Returns a promise when the transport reports acceptance asynchronously
   * (or asks the caller to wait: backpressure), undefined when it was accepted at once. The
   * runner waits for the promises of a window before sending the next window.
   */
  emit(data: unknown): Promise<void> | undefined;
  /**
   * One echo round trip written as a user writes it: `await firstValueFrom(client.send(...))`,
   * `await rpc.call(...)`. Absent where the transport has no awaitable call (raw net).
   */
  call?(data: unknown): Promise<unknown>;
  /** One stream call consumed with `for await`; absent where the transport has none. */
  iterate?(count: number, onItem: () => void): Promise<void>;
  close(): Promise<void>;
}

export interface Driver {
  /** Listens on `host` (a loopback address: lib/config.ts `serverHost`), on a port of the system's choosing. */
  startServer(hooks: ServerHooks, options: DriverOptions, host: string): Promise<DriverServer>;
  /** One client of the server on 127.0.0.1 at `port`. */
  connect(port: number, options: DriverOptions): Promise<DriverClient>;
  /**
   * One client of several servers, spreading its calls over them with the transport's own
   * balancer (p2c). Absent where the transport has no such client (Nest TCP, raw net).
   */
  connectMany?(endpoints: readonly ServerAddress[], options: DriverOptions): Promise<DriverClient>;
}

/** For the drivers that have only their own framing. */
export function requireJson(driver: string, options: DriverOptions): void {
  if (options.codecName !== 'json') throw new Error(`the ${driver} driver has no codec option: it runs JSON only`);
}
