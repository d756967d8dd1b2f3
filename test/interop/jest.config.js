// The interop suite (npm run test:interop, through test/interop/run.mjs, which builds the peer
// and sets PROTOSOCKET_PEER): the project's Jest setup, over test/interop/*.interop.ts only.
import base from '../../jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  rootDir: '../..',
  roots: ['<rootDir>/test/interop'],
  testMatch: ['**/*.interop.ts'],
  testTimeout: 60000,
};
