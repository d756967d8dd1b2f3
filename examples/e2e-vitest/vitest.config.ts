import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

/*
 * The e2e setup of a Nest 12 app (`nest new`: ESM, Vitest). What it needs for Nest:
 *  - unplugin-swc (with @swc/core): Vite's own TypeScript transform rejects parameter
 *    decorators (`@Payload()`) and emits no decorator metadata, which Nest's injection by
 *    constructor type (`constructor(private readonly appService: AppService)`) needs;
 *  - nothing for nestjs-protosocket itself: it is plain ESM.
 * The alias is this repository's only: it runs the example against the source. An app has
 * nestjs-protosocket installed and needs no alias.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: {
    alias: { 'nestjs-protosocket': fileURLToPath(new URL('../../src/nest/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.e2e-spec.ts'],
  },
});
