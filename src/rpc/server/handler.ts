import type { CallContext } from './call-context.js';

/**
 * Handles a request. Returns the reply as:
 *  - a plain value, or a Promise of one: one Reply frame;
 *  - an AsyncIterable: one Normal frame per item, then End. Pulled only while the connection
 *    has room to send, so a client that stops reading stops the producer;
 *  - a Subscribable (an rxjs Observable, or anything with `subscribe(observer)`): pushed items
 *    are sent while the connection has room and buffered (bounded) while it has not; a single
 *    item followed by completion is sent as one Reply frame.
 * A throw or rejection becomes an Error frame; the connection stays up.
 */
export type RequestHandler = (data: unknown, context: CallContext) => unknown;

/** Handles an event. Its result is awaited only to report errors (as the server's 'error' event). */
export type EventHandler = (data: unknown, context: CallContext) => unknown;

export interface Unsubscribable {
  unsubscribe(): void;
}

export interface Subscribable<T = unknown> {
  subscribe(observer: { next(value: T): void; error(err: unknown): void; complete(): void }): Unsubscribable;
}

export function isSubscribable(value: unknown): value is Subscribable {
  return typeof (value as Subscribable | null)?.subscribe === 'function';
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/** The default error body: what a JSON peer can use, without stack traces. */
export function defaultSerializeError(err: unknown): unknown {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return err;
}
