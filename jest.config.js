/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  moduleNameMapper: {
    // The sample app imports the package by name, as users do; tests run it against the source.
    '^nestjs-protosocket$': '<rootDir>/src/nest/index.ts',
    '^nestjs-protosocket/otel$': '<rootDir>/src/otel/index.ts',
    '^nestjs-protosocket/health$': '<rootDir>/src/nest/health/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  testTimeout: 20000,
  // Every test closes what it opens (checked locally with --detectOpenHandles). In CI a leaked
  // handle after a failure must not turn into a hung run, so Jest exits when the tests are done.
  forceExit: process.env.CI === 'true',
};
