/**
 * The e2e setup of a Nest 12 app tested with Jest, ESM with ts-jest. nestjs-protosocket is ESM
 * only, so Jest must run in its ESM mode; what to set:
 *  - run Jest with NODE_OPTIONS=--experimental-vm-modules (see the `test:e2e-setups` script);
 *  - `extensionsToTreatAsEsm: ['.ts']` and ts-jest with `useESM: true`;
 *  - a tsconfig with `module`/`moduleResolution` `nodenext`, `experimentalDecorators` and
 *    `emitDecoratorMetadata`, and `isolatedModules` (ts-jest then transpiles file by file);
 *  - the `.js` extensions of relative ESM imports mapped back to the `.ts` sources.
 * The `nestjs-protosocket` mapping is this repository's only (it runs the example against the
 * source); an app has the package installed and needs none.
 *
 * @type {import('jest').Config}
 */
export default {
  rootDir: '.',
  testEnvironment: 'node',
  testRegex: '.e2e-spec.ts$',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^nestjs-protosocket$': '<rootDir>/../../src/nest/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }],
  },
};
