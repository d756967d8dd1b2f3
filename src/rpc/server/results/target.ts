import type { CallWriter } from '../call-writer.js';

/**
 * What a result adapter drives: the call's writer, and the call's slot for the teardown of
 * the producer the adapter started. The call runs that teardown if it ends first (cancel,
 * deadline, shutdown, connection loss, slow consumer); an adapter whose producer ended by
 * itself clears the slot.
 */
export interface ResultTarget extends CallWriter {
  setProducer(stop: (() => void) | undefined): void;
}
