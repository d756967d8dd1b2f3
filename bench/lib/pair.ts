/**
 * One server process and one load-generator process for one driver: the server starts and
 * reports its port, the load generator runs the workloads in order against it, the
 * orchestrator relays control requests between them, then both are stopped.
 *
 *   orchestrator ──fork──> server ──ready(port)──> orchestrator ──fork, run──> load generator
 *                <──result per workload── load generator; then done; then server shutdown
 *
 * Both processes are killed on any failure or timeout; the watchdog is the sum of the
 * workloads' own bounds plus start-up time.
 */
import { fileURLToPath } from 'node:url';
import { codecEnv } from './codecs.js';
import { type CodecName, FD_HEADROOM, LIMITS, type TelemetryMode, type WorkloadName, type WorkloadSpec, serverConnections, workloadBudgetMs } from './config.js';
import type { FromClient, FromServer, ToClient, ToServer, WorkloadResult } from './ipc.js';
import { Child, describeExit, exitWithin, openFilesLimit, waitForMessage } from './processes.js';
import type { DriverName } from './registry.js';

const SERVER_MAIN = fileURLToPath(new URL('./server-main.js', import.meta.url));
const CLIENT_MAIN = fileURLToPath(new URL('./client-main.js', import.meta.url));

export interface PairOptions {
  /** The codec both processes use (lib/schedule.ts gives each codec its own pair). Default JSON. */
  codec?: CodecName;
  /** What observes the transport in both processes, from start-up (lib/telemetry.ts). Default off. */
  telemetry?: TelemetryMode;
  /**
   * Run the server under `node --cpu-prof`, writing `<dir>/<name>` and the measured windows to
   * `<dir>/<name>.window.json`; with `client`, the load generator too (`<dir>/<clientName>`).
   */
  profile?: { dir: string; name: string; intervalUs: number; clientName?: string };
  /** Called as each workload's result arrives (progress lines). */
  onResult?: (result: WorkloadResult) => void;
}

export interface PairOutcome {
  driver: DriverName;
  rep: number;
  codec: CodecName;
  telemetry: TelemetryMode;
  /** From forking the server to both processes gone: what the pair cost the run's time budget. */
  wallMs: number;
  idleRssBytes: number;
  results: WorkloadResult[];
  /** What failed, if anything: the workload it happened in, when known. */
  failure?: { workload?: WorkloadName; error: string };
}

type ServerChild = Child<ToServer, FromServer>;
type ClientChild = Child<ToClient, FromClient>;

export async function runPair(driver: DriverName, rep: number, specs: WorkloadSpec[], options: PairOptions = {}): Promise<PairOutcome> {
  const codec = options.codec ?? 'json';
  const telemetry = options.telemetry ?? 'off';
  const startedAt = performance.now();
  const outcome: PairOutcome = { driver, rep, codec, telemetry, wallMs: 0, idleRssBytes: 0, results: [] };
  const fdProblem = checkOpenFiles(specs);
  if (fdProblem !== undefined) return { ...outcome, failure: fdProblem };
  const profile = options.profile;
  const env = codecEnv(codec);
  const serverArgv = ['--expose-gc'];
  const serverArgs: string[] = [driver, codec, telemetry];
  const clientArgv = ['--expose-gc'];
  if (profile !== undefined) {
    serverArgv.push(...cpuProfFlags(profile.dir, profile.name, profile.intervalUs));
    serverArgs.push(`${profile.dir}/${profile.name}.window.json`);
    if (profile.clientName !== undefined) clientArgv.push(...cpuProfFlags(profile.dir, profile.clientName, profile.intervalUs));
  }
  const server: ServerChild = new Child(`${driver} server`, SERVER_MAIN, serverArgs, serverArgv, env);
  let client: ClientChild | undefined;
  try {
    const ready = await waitForMessage(server, (m) => m.t === 'ready' || m.t === 'fatal', LIMITS.serverStartMs, 'ready');
    if (ready.t !== 'ready') throw new Error(`server failed to start: ${ready.t === 'fatal' ? ready.error : ready.t}`);
    outcome.idleRssBytes = ready.idleRssBytes;

    client = new Child(`${driver} load generator`, CLIENT_MAIN, [], clientArgv, env);
    relay(server, client);
    let lastWorkload: WorkloadName | undefined;
    client.onMessage((message) => {
      if (message.t === 'result') {
        outcome.results.push(message.result);
        lastWorkload = message.result.workload;
        options.onResult?.(message.result);
      }
    });
    server.onMessage((message) => {
      if (message.t === 'fatal') outcome.failure ??= { error: `server: ${message.error}` };
    });
    client.send({ t: 'run', driver, codec, telemetry, port: ready.port, specs });

    const budget = LIMITS.clientStartMs + specs.reduce((sum, spec) => sum + workloadBudgetMs(spec), 0);
    const end: FromClient = await waitForMessage(client, (m) => m.t === 'done' || m.t === 'fatal', budget, 'end of workloads').catch(
      (err: Error) => ({ t: 'fatal', error: err.message, workload: nextWorkload(specs, lastWorkload) }),
    );
    if (end.t === 'fatal') outcome.failure ??= { workload: end.workload ?? nextWorkload(specs, lastWorkload), error: end.error };
    await exitWithin(client, 5_000);

    // A graceful stop, so --cpu-prof gets to write its file.
    server.send({ t: 'shutdown' });
    const exit = await exitWithin(server, LIMITS.serverStopMs);
    if (exit.code !== 0 && outcome.failure === undefined) outcome.failure = { error: `server exited with ${describeExit(exit)}` };
  } catch (err) {
    outcome.failure ??= { error: err instanceof Error ? err.message : String(err) };
  } finally {
    await Promise.all([server.kill(), client?.kill()]);
  }
  outcome.wallMs = performance.now() - startedAt;
  return outcome;
}

/**
 * W6 and W7 hold thousands of sockets in one process. Node raises its soft limit on open files
 * to the hard limit at start-up, so only the hard limit can stop them: checked here, so the
 * pair fails with the remedy rather than with EMFILE halfway through.
 */
function checkOpenFiles(specs: WorkloadSpec[]): PairOutcome['failure'] | undefined {
  const needed = Math.max(0, ...specs.map(serverConnections)) + FD_HEADROOM;
  const limit = openFilesLimit();
  if (needed <= limit) return undefined;
  const spec = specs.reduce((a, b) => (serverConnections(b) > serverConnections(a) ? b : a));
  return {
    workload: spec.name,
    error: `${spec.name} needs ${needed} open files per process, but the hard limit (ulimit -Hn) is ${limit}: raise it (as root: ulimit -Hn ${needed}, or LimitNOFILE / limits.conf) and run again`,
  };
}

function cpuProfFlags(dir: string, name: string, intervalUs: number): string[] {
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`, `--cpu-prof-interval=${intervalUs}`];
}

/** Control requests go from the load generator to the server; answers come back. */
function relay(server: ServerChild, client: ClientChild): void {
  client.onMessage((message) => {
    if (message.t === 'ask') server.send(message);
  });
  server.onMessage((message) => {
    if (message.t === 'answer') client.send(message);
  });
}

function nextWorkload(specs: WorkloadSpec[], last: WorkloadName | undefined): WorkloadName | undefined {
  if (last === undefined) return specs[0]?.name;
  const index = specs.findIndex((spec) => spec.name === last);
  return specs[index + 1]?.name;
}
