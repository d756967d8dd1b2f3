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
  close(): Promise<void>;
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
  close(): Promise<void>;
}

export interface Driver {
  startServer(hooks: ServerHooks): Promise<DriverServer>;
  connect(port: number): Promise<DriverClient>;
}
