import protobuf from 'protobufjs/light.js';
import type { Codec } from '../../../src/core/index.js';
import { createMsgpackCodec } from '../../../src/rpc/wire/msgpack-codec.js';
import { createProtobufCodec } from '../../../src/rpc/wire/protobuf-codec.js';
import { jsonCodec, type RpcFrame } from '../../../src/rpc/index.js';

export type CodecName = 'json' | 'msgpack' | 'protobuf';

/** Message types the tests send as protobuf `Any` payloads. */
export const exampleRoot = protobuf.Root.fromJSON({
  nested: {
    example: {
      nested: {
        v1: {
          nested: {
            Point: { fields: { x: { type: 'sint32', id: 1 }, y: { type: 'sint32', id: 2 } } },
            Quote: { fields: { symbol: { type: 'string', id: 1 }, price: { type: 'double', id: 2 }, tags: { rule: 'repeated', type: 'string', id: 3 } } },
          },
        },
      },
    },
  },
});
export const Point = exampleRoot.lookupType('example.v1.Point');
export const Quote = exampleRoot.lookupType('example.v1.Quote');

export const codecs: Record<CodecName, Codec<RpcFrame, RpcFrame>> = {
  json: jsonCodec,
  msgpack: createMsgpackCodec(),
  protobuf: createProtobufCodec({ root: exampleRoot }),
};
export const codecNames = Object.keys(codecs) as CodecName[];

/** The frame without its undefined fields, to compare decoded frames with toStrictEqual. */
export function defined(frame: RpcFrame): RpcFrame {
  return Object.fromEntries(Object.entries(frame).filter(([, value]) => value !== undefined)) as unknown as RpcFrame;
}

// Golden vectors: hex dumps and JSON.

/** 16 bytes a line, space separated, lower case. */
export function toHexDump(bytes: Buffer): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    lines.push([...bytes.subarray(at, at + 16)].map((byte) => byte.toString(16).padStart(2, '0')).join(' '));
  }
  return `${lines.join('\n')}\n`;
}

export function fromHexDump(text: string): Buffer {
  const digits = text.replace(/\s+/g, '');
  if (!/^(?:[0-9a-f]{2})*$/i.test(digits)) throw new Error('not a hex dump');
  return Buffer.from(digits, 'hex');
}

/**
 * A frame as JSON: byte payloads as {"$bytes": hex}, protobuf messages as
 * {"$message": {"type": full name, "value": fields as JSON}}. Undefined fields are left out.
 */
export function frameToJson(frame: RpcFrame): unknown {
  return JSON.parse(
    JSON.stringify(defined(frame), function (this: unknown, key: string, value: unknown) {
      const original = (this as Record<string, unknown>)[key];
      if (original instanceof Uint8Array) return { $bytes: Buffer.from(original).toString('hex') };
      const type = (original as { $type?: protobuf.Type } | null | undefined)?.$type;
      if (type instanceof protobuf.Type) {
        return { $message: { type: type.fullName.slice(1), value: type.toObject(original as protobuf.Message, { defaults: false }) } };
      }
      return value;
    }),
  );
}

export function frameFromJson(json: unknown): RpcFrame {
  return JSON.parse(JSON.stringify(json), (_key: string, value: unknown) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const record = value as Record<string, unknown>;
      if (typeof record.$bytes === 'string' && Object.keys(record).length === 1) return Buffer.from(record.$bytes, 'hex');
      const message = record.$message as { type: string; value: Record<string, unknown> } | undefined;
      if (message !== undefined && Object.keys(record).length === 1) return exampleRoot.lookupType(message.type).fromObject(message.value);
    }
    return value;
  }) as RpcFrame;
}
