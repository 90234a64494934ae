// ESLint flat config: typescript-eslint with type-aware rules, Prettier as the one formatter.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** Modules the pure core must never import: anything that does I/O or talks to the outside. */
const IO_MODULES = [
  'fs',
  'fs/*',
  'node:*',
  'net',
  'http',
  'https',
  'http2',
  'child_process',
  'os',
  'path',
  'worker_threads',
  'dgram',
  'dns',
  'tls',
  'crypto',
  'process',
  'readline',
  'stream',
  '@kubernetes/*',
  '@grpc/*',
  'pino',
  'prom-client',
  'node-llama-cpp',
  'commander',
];

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', '.tools/', '.cache/', 'src/gen/', 'coverage/'],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // @kubernetes/client-node models (V1Lease, V1ObjectMeta, ...) are classes without behaviour;
      // the client serializes any object of their shape, and object literals are how its own
      // documentation builds them.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The pure core: no I/O, no clock, no randomness, no globals of the host.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: IO_MODULES,
              message: 'src/core is pure: no I/O imports. Pass data in and return decisions.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'src/core is pure: pass configuration in.' },
        { name: 'console', message: 'src/core is pure: return data, let the shell log.' },
        { name: 'setTimeout', message: 'src/core is pure: time is a parameter.' },
        { name: 'setInterval', message: 'src/core is pure: time is a parameter.' },
        { name: 'performance', message: 'src/core is pure: time is a parameter.' },
        { name: 'fetch', message: 'src/core is pure: no I/O.' },
        { name: 'require', message: 'src/core is pure: no dynamic loading.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'src/core is pure: pass the clock in.' },
        {
          object: 'Math',
          property: 'random',
          message: 'src/core is pure: pass a seeded random source in.',
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'NewExpression[callee.name="Date"]',
          message: 'src/core is pure: pass the clock in.',
        },
        { selector: 'ImportExpression', message: 'src/core is pure: no dynamic imports.' },
      ],
    },
  },
  prettier,
);
