/**
 * The orchestrator's relay between a pair's load generator and its server processes. With one
 * server, each control request goes to it and its answer comes back as it is. With several
 * (W9), a request goes to the first `ask.servers` of them (all when absent), and the load
 * generator gets one answer once each has answered:
 *
 *   load generator ──ask(id, servers: 2)──> relay ──ask──> server 1 ──answer──┐
 *                                                 └─ask──> server 2 ──answer──┤ merged
 *                  <────────────────────── one answer(id) <───────────────────┘
 *
 * `begin` merges to null, `end` to one ServerWindow (mergeWindows); the other requests are
 * about one server's memory, events or connections, and are refused across several.
 */
import type { Answer, Ask, FromClient, FromServer, ServerWindow, ToClient, ToServer } from './ipc.js';
import type { Child } from './processes.js';

type ServerChild = Child<ToServer, FromServer>;
type ClientChild = Child<ToClient, FromClient>;

/** A request asked of several servers: their answers by server index, until all are in. */
interface Gathering {
  ask: Ask;
  answers: (Answer | undefined)[];
  left: number;
}

export function relay(servers: readonly ServerChild[], client: ClientChild): void {
  const gathering = new Map<number, Gathering>();
  client.onMessage((message) => {
    if (message.t !== 'ask') return;
    const targets = servers.slice(0, message.servers ?? servers.length);
    if (targets.length === 1) return (targets[0] as ServerChild).send(message);
    if (targets.length === 0 || (message.op !== 'begin' && message.op !== 'end')) {
      return client.send({ t: 'answer', id: message.id, ok: false, error: `${message.op} cannot be asked of ${targets.length} servers` });
    }
    gathering.set(message.id, { ask: message, answers: targets.map(() => undefined), left: targets.length });
    for (const server of targets) server.send(message);
  });
  servers.forEach((server, index) => {
    server.onMessage((message) => {
      if (message.t !== 'answer') return;
      const gathered = gathering.get(message.id);
      if (gathered === undefined) return client.send(message);
      if (gathered.answers[index] !== undefined) return;
      gathered.answers[index] = message;
      if (--gathered.left > 0) return;
      gathering.delete(message.id);
      client.send(merge(gathered.ask, gathered.answers as Answer[]));
    });
  });
}

function merge(ask: Ask, answers: Answer[]): Answer {
  const failed = answers.findIndex((answer) => !answer.ok);
  if (failed >= 0) {
    const answer = answers[failed] as Extract<Answer, { ok: false }>;
    return { t: 'answer', id: ask.id, ok: false, error: `server ${failed + 1}: ${answer.error}` };
  }
  const values = answers.map((answer) => (answer as Extract<Answer, { ok: true }>).value);
  return { t: 'answer', id: ask.id, ok: true, value: ask.op === 'end' ? mergeWindows(values as ServerWindow[]) : null };
}

/**
 * Several servers' windows as one: CPU, requests, events and exported spans added up, the
 * longest window, the highest peak RSS of any one process (each is a replica with its own
 * memory), and each server's requests and CPU in `perServer`.
 */
export function mergeWindows(windows: readonly ServerWindow[]): ServerWindow {
  const sum = (pick: (w: ServerWindow) => number): number => windows.reduce((total, w) => total + pick(w), 0);
  const spans = windows.some((w) => w.exportedSpans !== undefined) ? { exportedSpans: sum((w) => w.exportedSpans ?? 0) } : {};
  return {
    elapsedMs: Math.max(...windows.map((w) => w.elapsedMs)),
    cpuUserUs: sum((w) => w.cpuUserUs),
    cpuSystemUs: sum((w) => w.cpuSystemUs),
    requests: sum((w) => w.requests),
    events: sum((w) => w.events),
    peakRssBytes: Math.max(...windows.map((w) => w.peakRssBytes)),
    ...spans,
    perServer: windows.map((w) => ({ requests: w.requests, cpuUs: w.cpuUserUs + w.cpuSystemUs })),
  };
}
