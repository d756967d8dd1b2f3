import type { RpcFrame } from '../wire/frame.js';
import type { RequestHandler } from './handler.js';

/** A request that arrived while its connection was at `maxConcurrentCalls`, waiting for a slot. */
export interface WaitingRequest {
  readonly frame: RpcFrame;
  readonly handler: RequestHandler;
  /** Its encoded size, as the connection read it: what the queue counts. */
  readonly bytes: number;
  /** Absolute deadline (ms since the epoch), counted from its arrival, not from its start. */
  readonly deadline: number | undefined;
  /** Credit the client granted before the call started (wire/flow-control.ts). */
  extraCredit: number;
  /** Cancelled while waiting: skipped, never started. */
  cancelled: boolean;
}

/**
 * The requests of one connection waiting for a call slot, oldest first, bounded in bytes: the
 * server stops starting calls at the cap, not reading, so Cancel, Ping and the end of the
 * stream are always read, and what waits here is what the cap would otherwise have left in
 * the socket. A cancelled request is forgotten at once (its bytes freed) and skipped later.
 *
 * Invariant: `bytes` is the sum of the sizes of the requests in `byId`, the live ones.
 */
export class WaitingRequests {
  private readonly queue: WaitingRequest[] = [];
  private head = 0;
  private readonly byId = new Map<number, WaitingRequest>();
  private _bytes = 0;

  constructor(readonly maxBytes: number) {}

  get size(): number {
    return this.byId.size;
  }

  get bytes(): number {
    return this._bytes;
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  get(id: number): WaitingRequest | undefined {
    return this.byId.get(id);
  }

  /** Queues `request` if it fits in `maxBytes`; false, changing nothing, if it does not. */
  offer(request: WaitingRequest): boolean {
    if (this._bytes + request.bytes > this.maxBytes) return false;
    this.queue.push(request);
    this.byId.set(request.frame.id, request);
    this._bytes += request.bytes;
    return true;
  }

  /** Forgets the waiting request `id` (the client cancelled it). */
  cancel(id: number): void {
    const request = this.byId.get(id);
    if (request === undefined) return;
    request.cancelled = true;
    this.forget(request);
  }

  /** The oldest request still waiting, removed from the queue; undefined when none waits. */
  take(): WaitingRequest | undefined {
    const queue = this.queue;
    while (this.head < queue.length) {
      const request = queue[this.head] as WaitingRequest;
      queue[this.head++] = undefined as unknown as WaitingRequest;
      if (this.head > 1024 && this.head > queue.length >>> 1) {
        queue.splice(0, this.head);
        this.head = 0;
      }
      if (request.cancelled) continue;
      this.forget(request);
      return request;
    }
    queue.length = 0;
    this.head = 0;
    return undefined;
  }

  /** Removes and returns every request still waiting, oldest first. */
  drain(): WaitingRequest[] {
    const live = [...this.byId.values()];
    this.byId.clear();
    this.queue.length = 0;
    this.head = 0;
    this._bytes = 0;
    return live;
  }

  private forget(request: WaitingRequest): void {
    this.byId.delete(request.frame.id);
    this._bytes -= request.bytes;
  }
}
