/**
 * The load-generator process: waits for the orchestrator's `run` message, installs the pair's
 * telemetry, connects the driver's client to the (first) server process, runs the workloads in order and reports one result
 * per workload. Control requests (begin/end of a measured window) go to the server processes
 * through the orchestrator.
 */
import 'reflect-metadata';
import { loadCodec } from './codecs.js';
import { LIMITS } from './config.js';
import { type Answer, type ControlOp, type ControlOps, type TelemetryFigures, type ToClient, type WorkloadResult, die, exitWithParent, sendToParent } from './ipc.js';
import { loadDriver } from './registry.js';
import { type Telemetry, installTelemetry } from './telemetry.js';
import { type ServerControl, type WorkloadContext, runWorkload } from './workloads.js';

/** Control requests in flight, by id. */
class ParentControl implements ServerControl {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();

  ask<K extends ControlOp>(op: K, arg: ControlOps[K]['arg'], servers?: number): Promise<ControlOps[K]['value']> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`control request ${op} got no answer within ${LIMITS.controlMs} ms`));
      }, LIMITS.controlMs + extraWait(op, arg));
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      sendToParent({ t: 'ask', id, op, arg, ...(servers === undefined ? {} : { servers }) });
    });
  }

  onAnswer(answer: Answer): void {
    const waiter = this.waiting.get(answer.id);
    if (waiter === undefined) return;
    this.waiting.delete(answer.id);
    clearTimeout(waiter.timer);
    if (answer.ok) waiter.resolve(answer.value);
    else waiter.reject(new Error(`server: ${answer.error}`));
  }
}

/** `waitEvents` and `waitConnections` legitimately take up to their own cap. */
function extraWait(op: ControlOp, arg: unknown): number {
  return op === 'waitEvents' || op === 'waitConnections' ? (arg as { capMs: number }).capMs : 0;
}

function main(): void {
  exitWithParent();
  const control = new ParentControl();
  process.on('message', (message: ToClient) => {
    if (message.t === 'answer') control.onAnswer(message);
    else void run(message, control).catch(die);
  });
}

async function run(job: Extract<ToClient, { t: 'run' }>, control: ParentControl): Promise<void> {
  const telemetry = await installTelemetry(job.telemetry);
  const driver = await loadDriver(job.driver);
  const options = { codecName: job.codec, codec: await loadCodec(job.codec) };
  const main = job.endpoints[0];
  if (main === undefined) throw new Error('no server to connect to');
  const client = await driver.connect(main.port, options);
  const context: WorkloadContext = { driverName: job.driver, driver, options, port: main.port, endpoints: job.endpoints, client, control };
  for (const spec of job.specs) {
    try {
      const result = await runWorkload(spec, context);
      sendToParent({ t: 'result', result: await withTelemetry(result, telemetry) });
    } catch (err) {
      die(err, { workload: spec.name });
      return;
    }
  }
  // Closing is bounded: a transport that does not close in time is cut off by process exit.
  await Promise.race([client.close(), new Promise((resolve) => setTimeout(resolve, 3_000).unref())]);
  sendToParent({ t: 'done' }, () => process.exit(0));
}

/** The telemetry the result was measured under, and (`otel`) the spans both SDKs exported. */
async function withTelemetry(result: WorkloadResult, telemetry: Telemetry): Promise<WorkloadResult> {
  if (telemetry.mode === 'off') return result;
  const figures: TelemetryFigures = { mode: telemetry.mode };
  const client = await telemetry.exportedSpans();
  if (client !== undefined) figures.exportedSpans = { client, server: result.server.exportedSpans ?? 0 };
  return { ...result, telemetry: figures };
}

main();
