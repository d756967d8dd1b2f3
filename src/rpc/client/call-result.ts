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
    this.reject(err);
  }

  complete(): void {
    this.resolve(this.last as T);
  }
}
