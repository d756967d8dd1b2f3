/**
 * Child processes of the orchestrator. Every child is tracked from fork to exit, and killed
 * (by its own pid) when the run ends, fails, or is interrupted: nothing outlives `npm run bench`.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';

const live = new Set<ChildProcess>();
let hooksInstalled = false;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A forked child with an IPC channel. */
export class Child<In, Out> {
  readonly exited: Promise<Exit>;
  private readonly process: ChildProcess;

  constructor(
    readonly name: string,
    script: string,
    args: string[],
    execArgv: string[],
    env: NodeJS.ProcessEnv = process.env,
  ) {
    installExitHooks();
    this.process = fork(script, args, { execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    live.add(this.process);
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        live.delete(this.process);
        resolve({ code, signal });
      });
    });
    // A failed fork reports 'error' (and no 'exit'): treat it as an exit.
    this.process.once('error', () => {
      live.delete(this.process);
    });
  }

  get alive(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  send(message: In): void {
    if (this.process.connected) this.process.send(message as object);
  }

  /** Returns the function that removes the listener. */
  onMessage(listener: (message: Out) => void): () => void {
    const wrapped = (message: unknown): void => listener(message as Out);
    this.process.on('message', wrapped);
    return () => this.process.off('message', wrapped);
  }

  /** Kills the child now (SIGKILL); resolves when it is gone. */
  async kill(): Promise<void> {
    if (this.alive) this.process.kill('SIGKILL');
    await this.exited;
  }
}

/** Resolves when `predicate` picks a message, rejects on timeout or when the child exits first. */
export function waitForMessage<Out>(child: Child<never, Out>, predicate: (message: Out) => boolean, timeoutMs: number, what: string): Promise<Out> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => finish(() => reject(new Error(`${child.name}: no ${what} within ${timeoutMs} ms`))), timeoutMs);
    const unsubscribe = child.onMessage((message) => {
      if (predicate(message)) finish(() => resolve(message));
    });
    function finish(settle: () => void): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unsubscribe();
      settle();
    }
    void child.exited.then((exit) => finish(() => reject(new Error(`${child.name} exited (${describeExit(exit)}) before ${what}`))));
  });
}

/** Resolves with the exit, or kills the child after `timeoutMs`. */
export async function exitWithin(child: Child<never, unknown>, timeoutMs: number): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => void child.kill().then(resolve), timeoutMs);
  });
  const exit = await Promise.race([child.exited, killed.then(() => child.exited)]);
  clearTimeout(timer);
  return exit;
}

export function describeExit(exit: Exit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
}

/**
 * The most file descriptors a process started from here may open: the hard limit
 * (`ulimit -Hn`), since Node raises its soft limit to the hard one at start-up. Infinity when
 * unlimited or unknown (then a process that runs out fails with EMFILE, and says so).
 */
export function openFilesLimit(): number {
  openFiles ??= readOpenFilesLimit();
  return openFiles;
}

let openFiles: number | undefined;

function readOpenFilesLimit(): number {
  try {
    const text = execFileSync('/bin/sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
    const limit = Number(text);
    return Number.isSafeInteger(limit) && limit > 0 ? limit : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Kills every child still running. */
export function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}
