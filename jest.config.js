/**
 * Three projects: `unit` (pure logic, replay, lint boundaries: no services, seconds), `integration` (the
 * real stack: a Temporal dev server, Redis and a worker, started by its global setup) and `scale-out` (a
 * slice on the Temporal server itself with PostgreSQL, test/scale/). `npm test` runs all three;
 * `npm run test:unit` only the first.
 */
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j|mj)s$': ['@swc/jest'] },
  // A few dependencies ship ES modules only: let swc turn them into CommonJS for jest.
  transformIgnorePatterns: ['/node_modules/(?!(nanoid|content-disposition|cookie|jose)/)'],
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 120000,
  // One test file at a time: some tests flush Redis, which every file shares.
  maxWorkers: 1,
  projects: [
    { ...common, displayName: 'unit', roots: ['<rootDir>/test/unit'] },
    {
      ...common,
      displayName: 'integration',
      roots: ['<rootDir>/test/integration'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'scale-out',
      roots: ['<rootDir>/test/scale'],
      globalSetup: '<rootDir>/test/support/global-setup-scale.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
      setupFiles: ['<rootDir>/test/support/scale-env.ts'],
    },
  ],
};
