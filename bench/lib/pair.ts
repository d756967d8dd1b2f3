/**
 * One load-generator process and its server process (or, for W9, its several server processes)
 * for one driver: the servers start and report their ports, the load generator runs the
 * workloads in order against them, the orchestrator relays control requests between them
 * (lib/relay.ts), then all are stopped.
 *
 *   orchestrator ──fork──> server(s) ──ready(port)──> orchestrator ──fork, run──> load generator
 *                <──result per workload── load generator; then done; then server shutdown
 *
 * Server `i` listens on 127.0.0.(i+1) (config.ts `serverHost`); the pair's client connects to
 * the first, and W9 opens a client of its own over several. All processes are killed on any
 * failure or timeout; the watchdog is the sum of the workloads' own bounds plus start-up time.
 */
import { fileURLToPath } from 'node:url';
import { codecEnv } from './codecs.js';
import { type CodecName, FD_HEADROOM, LIMITS, type TelemetryMode, type WorkloadName, type WorkloadSpec, serverConnections, serverHost, workloadBudgetMs } from './config.js';
import type { FromClient, FromServer, ToClient, ToServer, WorkloadResult } from './ipc.js';
import { Child, describeExit, exitWithin, openFilesLimit, waitForMessage } from './processes.js';
import type { DriverName } from './registry.js';
import { relay } from './relay.js';

const SERVER_MAIN = fileURLToPath(new URL('./server-main.js', import.meta.url));
const CLIENT_MAIN = fileURLToPath(new URL('./client-main.js', import.meta.url));

export interface PairOptions {
  /** The codec both processes use (lib/schedule.ts gives each codec its own pair). Default JSON. */
  codec?: CodecName;
  /** What observes the transport in both processes, from start-up (lib/telemetry.ts). Default off. */
  telemetry?: TelemetryMode;
  /** Server processes, on 127.0.0.1, 127.0.0.2, ... Default 1. */
  servers?: number;
  /**
   * Run the (first) server under `node --cpu-prof`, writing `<dir>/<name>` and the measured windows to
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
  const clientArgv = ['--expose-gc'];
  if (profile?.clientName !== undefined) clientArgv.push(...cpuProfFlags(profile.dir, profile.clientName, profile.intervalUs));
  const servers: ServerChild[] = Array.from({ length: options.servers ?? 1 }, (_, index) => {
    const serverArgv = ['--expose-gc'];
    const serverArgs: string[] = [driver, codec, telemetry, serverHost(index)];
    if (profile !== undefined && index === 0) {
      serverArgv.push(...cpuProfFlags(profile.dir, profile.name, profile.intervalUs));
      serverArgs.push(`${profile.dir}/${profile.name}.window.json`);
    }
    return new Child(`${driver} server${index === 0 ? '' : ` ${index + 1}`}`, SERVER_MAIN, serverArgs, serverArgv, env);
  });
  let client: ClientChild | undefined;
  try {
    const ready = await Promise.all(servers.map((server) => waitForMessage(server, (m) => m.t === 'ready' || m.t === 'fatal', LIMITS.serverStartMs, 'ready')));
    const endpoints = ready.map((message, index) => {
      if (message.t !== 'ready') throw new Error(`${servers[index]?.name ?? 'server'} failed to start: ${message.t === 'fatal' ? message.error : message.t}`);
      return { host: serverHost(index), port: message.port };
    });
    outcome.idleRssBytes = ready[0]?.t === 'ready' ? ready[0].idleRssBytes : 0;

    client = new Child(`${driver} load generator`, CLIENT_MAIN, [], clientArgv, env);
    relay(servers, client);
    let lastWorkload: WorkloadName | undefined;
    client.onMessage((message) => {
      if (message.t === 'result') {
        outcome.results.push(message.result);
        lastWorkload = message.result.workload;
        options.onResult?.(message.result);
      }
    });
    for (const server of servers) {
      server.onMessage((message) => {
        if (message.t === 'fatal') outcome.failure ??= { error: `${server.name}: ${message.error}` };
      });
    }
    client.send({ t: 'run', driver, codec, telemetry, endpoints, specs });

    const budget = LIMITS.clientStartMs + specs.reduce((sum, spec) => sum + workloadBudgetMs(spec), 0);
    const end: FromClient = await waitForMessage(client, (m) => m.t === 'done' || m.t === 'fatal', budget, 'end of workloads').catch(
      (err: Error) => ({ t: 'fatal', error: err.message, workload: nextWorkload(specs, lastWorkload) }),
    );
    if (end.t === 'fatal') outcome.failure ??= { workload: end.workload ?? nextWorkload(specs, lastWorkload), error: end.error };
    await exitWithin(client, 5_000);

    // A graceful stop, so --cpu-prof gets to write its file.
    for (const server of servers) server.send({ t: 'shutdown' });
    const exits = await Promise.all(servers.map((server) => exitWithin(server, LIMITS.serverStopMs)));
    exits.forEach((exit, index) => {
      if (exit.code !== 0 && outcome.failure === undefined) outcome.failure = { error: `${servers[index]?.name ?? 'server'} exited with ${describeExit(exit)}` };
    });
  } catch (err) {
    outcome.failure ??= { error: err instanceof Error ? err.message : String(err) };
  } finally {
    await Promise.all([...servers.map((server) => server.kill()), client?.kill()]);
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

function nextWorkload(specs: WorkloadSpec[], last: WorkloadName | undefined): WorkloadName | undefined {
  if (last === undefined) return specs[0]?.name;
  const index = specs.findIndex((spec) => spec.name === last);
  return specs[index + 1]?.name;
}
