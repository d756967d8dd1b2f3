import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { catalogue } from '../../vectors/catalogue.js';
import { decodeOne, encode } from '../../helpers/frames.js';
import { codecNames, codecs, defined, frameFromJson, frameToJson, fromHexDump, toHexDump, type CodecName } from './support.js';

/**
 * Golden vectors, checked both ways: encoding each file's frame gives exactly its bytes, and
 * decoding the bytes gives exactly the frame. The files are the source of truth; set
 * UPDATE_VECTORS=1 to rewrite them from test/vectors/catalogue.ts (then review the diff).
 */
const vectorsDir = new URL('../../vectors/', import.meta.url);
const update = process.env.UPDATE_VECTORS === '1';

function dir(codec: CodecName): URL {
  return new URL(`${codec}/`, vectorsDir);
}

function writeVectors(codec: CodecName): void {
  mkdirSync(dir(codec), { recursive: true });
  for (const [name, frame] of Object.entries(catalogue(codec))) {
    writeFileSync(new URL(`${name}.json`, dir(codec)), `${JSON.stringify(frameToJson(frame), null, 2)}\n`);
    writeFileSync(new URL(`${name}.hex`, dir(codec)), toHexDump(encode(codecs[codec].encoder, frame)));
  }
}

describe.each(codecNames)('%s golden vectors', (codec) => {
  if (update) writeVectors(codec);
  const names = Object.keys(catalogue(codec));

  it('has a .json and a .hex file for every kind of frame, and no others', () => {
    const files = readdirSync(dir(codec)).sort();
    expect(files).toEqual(names.flatMap((name) => [`${name}.hex`, `${name}.json`]).sort());
  });

  it.each(names)('%s', (name) => {
    const frame = frameFromJson(JSON.parse(readFileSync(new URL(`${name}.json`, dir(codec)), 'utf8')));
    const bytes = fromHexDump(readFileSync(new URL(`${name}.hex`, dir(codec)), 'utf8'));
    const { encoder, decoder } = codecs[codec];
    expect(toHexDump(encode(encoder, frame))).toBe(toHexDump(bytes));
    expect(defined(decodeOne(decoder, bytes))).toStrictEqual(defined(frame));
  });
});

it('protosocket-prost examples: Cancel and End for id 5', () => {
  // From protosocket's example-proto (docs: /work/notes/protosocket.md §4).
  expect(readFileSync(new URL('protobuf/cancel.hex', vectorsDir), 'utf8').trim()).toBe('04 08 05 10 01');
  expect(readFileSync(new URL('protobuf/end.hex', vectorsDir), 'utf8').trim()).toBe('04 08 05 10 02');
});

it('docs/PROTOCOL.md quotes the vectors byte for byte in its worked examples', () => {
  const doc = readFileSync(new URL('../../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  // "`test/vectors/<codec>/<name>` ... ```<annotated hex dump>```": each line's leading hex bytes.
  const examples = [...doc.matchAll(/`test\/vectors\/(\w+)\/([\w-]+)`[\s\S]*?```\n([\s\S]*?)```/g)];
  expect(examples.map(([, codec, name]) => `${codec}/${name}`)).toEqual([
    'json/unary-request',
    'msgpack/unary-request',
    'protobuf/unary-request',
    'protobuf/message-reply',
  ]);
  for (const [, codec, name, block] of examples) {
    const quoted = (block as string).split('\n').flatMap((line) => {
      const bytes: string[] = [];
      for (const token of line.trim().split(/\s+/)) {
        if (!/^[0-9a-f]{2}$/.test(token)) break;
        bytes.push(token);
      }
      return bytes;
    });
    const file = readFileSync(new URL(`${codec as string}/${name as string}.hex`, vectorsDir), 'utf8');
    expect(`${codec}/${name}: ${quoted.join(' ')}`).toBe(`${codec}/${name}: ${file.split(/\s+/).filter(Boolean).join(' ')}`);
  }
});
