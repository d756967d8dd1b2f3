#!/usr/bin/env node
// `npm run test:interop`: builds test/interop/peer (our Rust program on the stock protosocket
// crates) and runs the interop suite (test/interop/*.interop.ts) against it. Not part of
// `npm test`: without cargo or without a protosocket source it says what to install and exits 0.
//
//   PROTOSOCKET_SRC=/path/to/protosocket   a checkout of kvc0/protosocket (release 2.0.2): the
//                                          peer's protosocket crates are patched to it
//   PROTOSOCKET_SRC=crates.io              the stock crates from crates.io (needs network)
//   PROTOSOCKET_CARGO_CONFIG=/path.toml    optional: one more cargo config (e.g. an offline
//                                          source replacement to Debian's crates)
//   PROTOSOCKET_PEER=/path/to/binary       optional: skip the build, use this peer binary
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const peerDir = path.join(here, 'peer');
const peerBinary = path.join(peerDir, 'target', 'release', 'protosocket-peer');

/** The crates the peer uses, and where each lives in a protosocket checkout. */
const CRATES = {
  protosocket: 'protosocket-connection',
  'protosocket-rpc': 'protosocket-rpc',
  'protosocket-prost': 'protosocket-prost',
  'protosocket-messagepack': 'protosocket-messagepack',
};

function skip(message) {
  console.log(`test:interop skipped: ${message}\n`);
  console.log(`To run it (see test/interop/README.md):
  - a Rust toolchain with cargo: on Debian 12, apt-get install cargo-web rustc-web, or rustup (Rust 1.65 or newer);
  - the protosocket source: git clone https://github.com/kvc0/protosocket && git -C protosocket checkout v2.0.2,
    then PROTOSOCKET_SRC=$PWD/protosocket npm run test:interop
    (or PROTOSOCKET_SRC=crates.io to take the stock crates from crates.io, with network access);
  - offline, point PROTOSOCKET_CARGO_CONFIG at a cargo config with a source replacement (e.g. to
    /usr/share/cargo/registry and the librust-*-dev packages listed in the README), and give
    PROTOSOCKET_SRC a tree whose dependency versions that registry has.`);
  process.exit(0);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

let binary = process.env.PROTOSOCKET_PEER;
if (binary === undefined || binary === '') {
  const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' });
  if (cargo.error || cargo.status !== 0) skip('cargo was not found on PATH.');
  const source = process.env.PROTOSOCKET_SRC;
  if (source === undefined || source === '') skip('PROTOSOCKET_SRC is not set.');

  const args = ['build', '--release', '--manifest-path', path.join(peerDir, 'Cargo.toml')];
  const cargoConfig = process.env.PROTOSOCKET_CARGO_CONFIG;
  if (cargoConfig !== undefined && cargoConfig !== '') {
    if (!existsSync(cargoConfig)) skip(`PROTOSOCKET_CARGO_CONFIG names ${cargoConfig}, which does not exist.`);
    args.push('--config', path.resolve(cargoConfig));
  }
  if (source !== 'crates.io') {
    const tree = path.resolve(source);
    for (const [crate, dir] of Object.entries(CRATES)) {
      const manifest = path.join(tree, dir, 'Cargo.toml');
      if (!existsSync(manifest)) skip(`PROTOSOCKET_SRC=${tree} has no ${dir}/Cargo.toml: it is not a protosocket checkout.`);
      // `[patch.crates-io]` on the command line: the peer's Cargo.toml names the crates.io releases.
      args.push('--config', `patch.crates-io.${crate}.path=${JSON.stringify(path.join(tree, dir))}`);
    }
  }
  console.log(`building the peer: cargo ${args.join(' ')}`);
  const status = run('cargo', args, { cwd: peerDir });
  if (status !== 0) {
    console.error('test:interop: the peer did not build (see cargo above).');
    process.exit(status);
  }
  binary = peerBinary;
}

const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
const status = run(process.execPath, [jest, '--config', path.join(here, 'jest.config.js'), '--runInBand', ...process.argv.slice(2)], {
  cwd: root,
  env: { ...process.env, PROTOSOCKET_PEER: binary, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules`.trim() },
});
process.exit(status);
