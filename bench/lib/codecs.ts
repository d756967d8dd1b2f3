/**
 * The codecs the protosocket drivers can run with (config.ts, CODEC_NAMES), loaded on demand
 * so a JSON process never loads msgpackr or protobufjs.
 *
 * msgpackr decides at import whether it uses its native string extractor (the optional
 * package msgpackr-extract, a prebuilt binary for common platforms): unless the environment
 * sets MSGPACKR_NATIVE_ACCELERATION_DISABLED=true, it uses it when it can load it, and says so
 * in its `isNativeAccelerationEnabled` export. The `msgpack` variant must have it and
 * `msgpack-js` must not; a process where that does not hold fails rather than measure the
 * other variant under the wrong name.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Codec } from '../../src/core/codec.js';
import { type RpcFrame, jsonCodec } from '../../src/rpc/index.js';
import type { CodecName } from './config.js';

export type RpcCodec = Codec<RpcFrame, RpcFrame>;

/** Set in both processes of a `msgpack-js` pair. */
export const MSGPACKR_DISABLE_NATIVE_ENV = 'MSGPACKR_NATIVE_ACCELERATION_DISABLED';

export async function loadCodec(name: CodecName): Promise<RpcCodec> {
  switch (name) {
    case 'json':
      return jsonCodec;
    case 'msgpack':
    case 'msgpack-js': {
      const { isNativeAccelerationEnabled } = await import('msgpackr');
      const wantNative = name === 'msgpack';
      if (isNativeAccelerationEnabled !== wantNative) {
        throw new Error(
          `codec ${name} needs msgpackr's native extension ${wantNative ? 'loaded' : 'disabled'}, ` +
            `but it is ${isNativeAccelerationEnabled ? 'loaded' : 'not loaded'} (${MSGPACKR_DISABLE_NATIVE_ENV}=${process.env[MSGPACKR_DISABLE_NATIVE_ENV] ?? ''})`,
        );
      }
      return (await import('../../src/rpc/wire/msgpack-codec.js')).msgpackCodec;
    }
    case 'protobuf':
      return (await import('../../src/rpc/wire/protobuf-codec.js')).protobufCodec;
  }
}

/** The environment a pair's two processes get for a codec. */
export function codecEnv(name: CodecName): NodeJS.ProcessEnv {
  return name === 'msgpack-js' ? { ...process.env, [MSGPACKR_DISABLE_NATIVE_ENV]: 'true' } : process.env;
}

export interface MsgpackrInstall {
  version: string;
  /** The installed msgpackr-extract version, if any. */
  extract: string | undefined;
  /** Whether msgpackr, imported here with this environment, uses the native extractor. */
  native: boolean;
}

/** What this installation gives msgpackr: the orchestrator reports it with the results. */
export async function probeMsgpackr(): Promise<MsgpackrInstall> {
  const { isNativeAccelerationEnabled } = await import('msgpackr');
  return { version: versionOf('msgpackr') ?? 'unknown', extract: versionOf('msgpackr-extract'), native: isNativeAccelerationEnabled };
}

/** The version of an installed package, found from its entry point (its `exports` may hide package.json). */
function versionOf(pkg: string): string | undefined {
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve(pkg));
  } catch {
    return undefined;
  }
  for (; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === pkg) return manifest.version;
    } catch {
      // no package.json at this level
    }
  }
  return undefined;
}
