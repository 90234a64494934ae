// Jest runs TypeScript as native ESM (node --experimental-vm-modules): the Kubernetes client
// and node-llama-cpp are ESM-only. ts-jest transpiles per file (isolatedModules); type errors
// are caught by `npm run typecheck`, which `make lint` runs.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  roots: ['<rootDir>/test', '<rootDir>/src'],
  testMatch: ['**/*.test.ts'],
  testTimeout: 60_000,
};
