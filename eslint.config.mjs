// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Product code (everything under src/) never imports a tool: the debugging CLI, the auditor, dev and
 * provisioning, probes, test faults (all under tools/) or the load generator (loadtest/). Tools import the
 * product, never the other way round. test/unit/boundaries.test.ts runs this rule in `npm test`.
 */
const productImportsNoTool = {
  regex: '^(\\.\\./)+(tools|loadtest|test)(/|$)',
  message:
    'Product code (src/) never imports tools (tools/, loadtest/, test/): move the shared part into src/.',
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.tools/',
      '.data/',
      'reports/',
      'coverage/',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'object-shorthand': ['error', 'always'],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [productImportsNoTool] }] },
  },
  {
    // Code bundled into the workflow sandbox: deterministic, no Node built-ins, no non-workflow SDK parts,
    // and activities only as types (they run in the worker, not in the bundle).
    files: [
      'src/{entities,sagas}/**/{workflow,state,contract}.ts',
      'src/workflows.ts',
      'src/failures.ts',
      'tools/probes/**/workflow.ts',
    ],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            productImportsNoTool,
            { group: ['node:*'], message: 'Node built-ins are not available in the workflow sandbox.' },
            {
              group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity'],
              message: 'Not for workflow code.',
            },
            {
              group: ['ioredis', 'fastify', 'nanoid', 'prom-client'],
              message: 'Not for workflow code: use an activity.',
            },
            {
              group: ['**/activities'],
              allowTypeImports: true,
              message: 'Import activity types only (import type).',
            },
          ],
          paths: ['fs', 'path', 'crypto', 'http', 'https', 'net', 'child_process', 'os', 'util'],
        },
      ],
    },
  },
);
