/**
 * (d) The reference for what Node itself does: a `net` server and client speaking u32
 * length-prefixed frames (lib/raw-frames.ts) with JSON bodies, per-tick gathered writes, and
 * raw bytes for Buffer payloads. Same work per message as the others (parse the request,
 * serialize the reply), none of the features (no cancellation, deadlines, stream backpressure
 * or error frames).
 */
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { type Done, type Driver, type StreamDone, requireJson } from '../lib/driver.js';
import { FrameSplitter, Kind, TickWriter } from '../lib/raw-frames.js';

const HOST = '127.0.0.1';
/** The client stops emitting events while the socket holds more than this. */
const EMIT_HIGH_WATER_MARK = 1024 * 1024;
const MAX_ID = 0xffff_ffff;

export const driver: Driver = {
  async startServer(hooks, options, host) {
    requireJson('raw-net', options);
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ noDelay: true }, (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      const out = new TickWriter(socket);
      const splitter = new FrameSplitter((kind, id, body) => {
        switch (kind) {
          case Kind.JsonRequest:
            hooks.request();
            out.json(Kind.JsonReply, id, parse(body));
            return;
          case Kind.BytesRequest:
            hooks.request();
            out.bytes(Kind.BytesReply, id, body);
            return;
          case Kind.StreamRequest:
            for (const item of hooks.streamItems(parse(body) as number)) out.json(Kind.StreamItem, id, item);
            out.empty(Kind.StreamEnd, id);
            return;
          case Kind.Event:
            parse(body);
            hooks.event();
            return;
          default:
            socket.destroy(new Error(`unexpected frame kind ${kind}`));
        }
      });
      socket.on('data', (chunk: Buffer) => splitter.push(chunk));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: 0 }, () => resolve());
    });
    return {
      port: (server.address() as AddressInfo).port,
      netServer: server,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        }),
    };
  },

  async connect(port, options) {
    requireJson('raw-net', options);
    const socket = net.connect({ host: HOST, port, noDelay: true });
    await once(socket, 'connect');
    const out = new TickWriter(socket);
    const calls = new Map<number, Pending>();
    let nextId = 1;
    const allocate = (pending: Pending): number => {
      const id = nextId;
      nextId = nextId === MAX_ID ? 1 : nextId + 1;
      calls.set(id, pending);
      return id;
    };
    const splitter = new FrameSplitter((kind, id, body) => {
      const call = calls.get(id);
      if (call === undefined) return;
      switch (kind) {
        case Kind.JsonReply:
          calls.delete(id);
          call.reply?.(undefined, parse(body));
          return;
        case Kind.BytesReply:
          calls.delete(id);
          call.reply?.(undefined, body);
          return;
        case Kind.StreamItem:
          parse(body);
          call.item?.();
          return;
        case Kind.StreamEnd:
          calls.delete(id);
          call.end?.();
          return;
      }
    });
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
    socket.on('close', () => {
      const lost = new Error('connection closed');
      for (const call of calls.values()) {
        if (call.reply !== undefined) call.reply(lost);
        else call.end?.(lost);
      }
      calls.clear();
    });
    let drained: Promise<void> | undefined;

    return {
      request(data, done) {
        const id = allocate({ reply: done });
        if (data instanceof Uint8Array) out.bytes(Kind.BytesRequest, id, data);
        else out.json(Kind.JsonRequest, id, data);
      },
      stream(count, onItem, done) {
        out.json(Kind.StreamRequest, allocate({ item: onItem, end: done }), count);
      },
      emit(data) {
        out.json(Kind.Event, 0, data);
        if (out.backlog <= EMIT_HIGH_WATER_MARK) return undefined;
        return (drained ??= once(socket, 'drain').then(() => void (drained = undefined)));
      },
      close: () =>
        new Promise<void>((resolve) => {
          socket.once('close', () => resolve());
          socket.end();
          setTimeout(() => socket.destroy(), 1_000).unref();
        }),
    };
  },
};

interface Pending {
  reply?: Done;
  item?: () => void;
  end?: StreamDone;
}

function parse(body: Buffer): unknown {
  return JSON.parse(body.toString('utf8'));
}
