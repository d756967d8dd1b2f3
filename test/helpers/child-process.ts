/**
 * Running part of this package in a separate Node process, for tests that need a peer they can
 * pause (SIGSTOP) or kill. Jest runs the TypeScript sources; a child cannot, so the sources it
 * needs (src/core, src/rpc and the child's own script) are transpiled once per test process,
 * without type checking (the typecheck step does that), into a temporary folder that keeps
 * their relative paths.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

const ROOT = process.cwd();
/** What a child may import: the layers below Nest, and the scripts children run. */
const SOURCES = ['src/core', 'src/rpc', 'test/rpc/fixtures'];

let built: Promise<string> | undefined;

/** The folder holding the transpiled sources; built on first use. */
function buildOnce(): Promise<string> {
  built ??= build();
  return built;
}

async function build(): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), 'protosocket-child-'));
  const files = (await Promise.all(SOURCES.map((dir) => tsFiles(join(ROOT, dir))))).flat();
  for (const file of files) {
    const output = ts.transpileModule(await readFile(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, isolatedModules: true },
    });
    const target = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js');
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, output.outputText);
  }
  await writeFile(join(out, 'package.json'), JSON.stringify({ type: 'module' }));
  process.once('exit', () => void rm(out, { recursive: true, force: true }));
  return out;
}

async function tsFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts')).map((entry) => join(entry.parentPath, entry.name));
}

/**
 * Forks `script` (a path from the repository root under test/rpc/fixtures, e.g. 'test/rpc/fixtures/echo-server.ts')
 * with `args` and an IPC channel, and resolves with the child and the first message it sends.
 */
export async function forkScript<Ready>(script: string, args: readonly string[] = []): Promise<{ child: ChildProcess; ready: Ready }> {
  const out = await buildOnce();
  const child = fork(join(out, script.replace(/\.ts$/, '.js')), [...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('message', (message) => resolve(message as Ready));
    child.once('exit', (code, signal) => reject(new Error(`${script} exited before it was ready (${code ?? signal})`)));
    child.once('error', reject);
  });
  return { child, ready };
}

/** Kills `child` (by its own pid, SIGKILL: it may be stopped) and resolves once it is gone. */
export function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
