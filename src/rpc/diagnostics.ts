import diagnosticsChannel from 'node:diagnostics_channel';
import { type ConnectionSide, type ObservedConnection, codeOf } from '../core/diagnostics.js';
import { CancelledError, DeadlineExceededError } from './errors.js';
import type { Metadata, RpcFrame } from './wire/frame.js';

/**
 * The call-level diagnostics channels (node:diagnostics_channel). Their names and message
 * shapes are a stable interface (README, "Operations"); the connection-level ones are in
 * core/diagnostics.ts. Every publish site checks `hasSubscribers` first: with no subscriber a
 * call builds no message and allocates nothing.
 *
 *   client: start ─── Request ──────────────────────────────> server: start ── handler
 *           end   <── Reply | Normal* End | Error | Cancel ──          end  <─┘
 *
 * A call's `call:end` carries its `call:start` message as `start`, so a subscriber can keep
 * per-call state in a WeakMap keyed on the start message.
 */

/** How a call ended. A lost connection, a shutdown and a handler's throw are all `error` (see `errorCode`). */
export type CallOutcome = 'ok' | 'error' | 'cancelled' | 'deadline_exceeded';

interface CallStartFields {
  readonly connection: ObservedConnection;
  /** The call id, unique among the calls in flight on the connection. */
  readonly id: number;
  readonly pattern: string;
  /** The time budget the request carries, in ms. */
  readonly timeoutMs: number | undefined;
  /** `performance.now()` when the call started. */
  readonly startTime: number;
}

/** The fields both sides' `call:start` messages take from the request frame. */
export function callStartFields(connection: ObservedConnection, request: RpcFrame): CallStartFields {
  return { connection, id: request.id, pattern: request.pattern ?? '', timeoutMs: request.timeoutMs, startTime: performance.now() };
}

/** `protosocket:call:start`, client side: published before the request is queued. */
export interface ClientCallStartMessage extends CallStartFields {
  readonly side: 'client';
  /**
   * The metadata the request will carry. A subscriber may replace it, with a copy that has its
   * own entries added (the OpenTelemetry instrumentation adds `traceparent`), never mutate it:
   * it is the caller's object.
   */
  meta: Metadata | undefined;
}

/** Runs `run` (the call's handler, and everything it starts) inside a subscriber's async context. */
export type ContextRunner = (run: () => void) => void;

/** `protosocket:call:start`, server side: published before the handler runs. */
export interface ServerCallStartMessage extends CallStartFields {
  readonly side: 'server';
  /** The metadata the request carried. */
  readonly meta: Metadata | undefined;
  /**
   * Set by a subscriber to run the handler inside its own async context (the OpenTelemetry
   * instrumentation runs it in the context extracted from `meta`, with the server span active).
   * A subscriber composes with one already set: `const outer = m.runInContext; m.runInContext = (run) => outer ? outer(() => mine(run)) : mine(run)`.
   */
  runInContext: ContextRunner | undefined;
}

export type CallStartMessage = ClientCallStartMessage | ServerCallStartMessage;

/** `protosocket:call:end`: published once per call, when it settled on this side. */
export interface CallEndMessage {
  readonly side: ConnectionSide;
  /** The call's `call:start` message (the same object). */
  readonly start: CallStartMessage;
  readonly outcome: CallOutcome;
  /** Why it did not end `ok`: what the client's caller got, or what the server's handler threw (or was aborted with). */
  readonly error: unknown;
  /** The error's stable code (ERR_REMOTE, ERR_CANCELLED, ERR_CONNECTION_CLOSED, a handler's own code...). */
  readonly errorCode: string | undefined;
  /** From `call:start` to now, in ms. */
  readonly durationMs: number;
  /** Values delivered (client) or Normal frames plus a Reply's value (server): 1 for a unary reply, the item count for a stream. */
  readonly items: number;
}

export const callStartChannel = diagnosticsChannel.channel('protosocket:call:start');
export const callEndChannel = diagnosticsChannel.channel('protosocket:call:end');

/** Whether anyone listens to calls: only then is a call observed (and a message ever built). */
export function callsObserved(): boolean {
  return callStartChannel.hasSubscribers || callEndChannel.hasSubscribers;
}

/** The outcome an error stands for. */
export function outcomeOf(error: unknown): CallOutcome {
  if (error instanceof CancelledError) return 'cancelled';
  if (error instanceof DeadlineExceededError) return 'deadline_exceeded';
  return 'error';
}

export function publishCallEnd(start: CallStartMessage, outcome: CallOutcome, error: unknown, items: number): void {
  if (!callEndChannel.hasSubscribers) return;
  const message: CallEndMessage = {
    side: start.side,
    start,
    outcome,
    error,
    errorCode: outcome === 'ok' ? undefined : errorCodeOf(error),
    durationMs: performance.now() - start.startTime,
    items,
  };
  callEndChannel.publish(message);
}

/** A RemoteError's server-side code when the body has one, else the error's own code. */
function errorCodeOf(error: unknown): string | undefined {
  const remote = (error as { remoteCode?: unknown } | null | undefined)?.remoteCode;
  return typeof remote === 'string' ? remote : codeOf(error);
}
