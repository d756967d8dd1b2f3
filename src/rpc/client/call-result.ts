import type { CallObserver } from './call.js';

/** The observer behind `call`: settles a promise with the last value. One object per call, no closures. */
export class CallResult<T> implements CallObserver {
  readonly promise: Promise<T>;
  private resolve!: (value: T) => void;
  private reject!: (err: Error) => void;
  private last: unknown = undefined;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  next(value: unknown): void {
    this.last = value;
  }

  error(err: Error): void {
    this.last = undefined;
    this.reject(err);
  }

  /**
   * Lets go of the value once it is handed over. This object lived as long as the call, so V8
   * has often promoted it to the old generation by the time the reply arrives; a reply it kept
   * would be kept alive by every young-generation GC until the next full one (a dead old object
   * still counts as a root for young ones). With large replies (64 KiB) that promoted every
   * reply and spent a quarter of the client's CPU in full GCs.
   */
  complete(): void {
    const last = this.last as T;
    this.last = undefined;
    this.resolve(last);
  }
}
