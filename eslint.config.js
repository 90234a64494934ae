// ESLint flat config: typescript-eslint with type-aware rules, Prettier as the one formatter.
import { dirname, relative, resolve } from 'node:path';
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

/**
 * The layers of src/ and what each may import besides itself. Arrows point one way: the pure core
 * and the generated code at the bottom, the CLI on top, nothing imports the CLI. The agent (the
 * gRPC server on a node) and the operator never import each other; the operator reaches agents
 * through agent-client. docs/architecture.md draws the same graph.
 */
export const LAYERS = {
  core: [],
  gen: [],
  util: [],
  report: ['util'],
  telemetry: ['util'],
  'agent-client': ['gen', 'util'],
  gguf: ['core', 'util'],
  'model-fetch': ['gguf', 'util'],
  runtime: ['core', 'gguf', 'util'],
  agent: ['core', 'gen', 'runtime', 'telemetry', 'util'],
  operator: ['core', 'gen', 'agent-client', 'gguf', 'model-fetch', 'telemetry', 'util'],
  sim: ['core', 'report', 'util'],
  cli: [
    'core',
    'gen',
    'util',
    'report',
    'telemetry',
    'agent-client',
    'gguf',
    'model-fetch',
    'runtime',
    'agent',
    'operator',
    'sim',
  ],
};

const SRC = resolve(import.meta.dirname, 'src');

/** The layer (first folder under src/) of an absolute path, or undefined outside src/. */
function layerOf(path) {
  const rel = relative(SRC, path);
  if (rel.startsWith('..') || rel === '') return undefined;
  return rel.split(/[\\/]/)[0];
}

/** edgellm/layers: a relative import may only reach a layer that LAYERS allows. */
const layersRule = {
  meta: {
    type: 'problem',
    messages: {
      forbidden:
        'src/{{from}} may not import src/{{to}} (allowed: {{allowed}}); see LAYERS in eslint.config.js',
      unknown: 'src/{{to}} is not a layer in LAYERS (eslint.config.js): add it with its imports',
    },
    schema: [],
  },
  create(context) {
    const from = layerOf(context.filename);
    if (from === undefined) return {};
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const to = layerOf(resolve(dirname(context.filename), source));
      if (to === undefined || to === from) return;
      if (!(to in LAYERS)) {
        context.report({ node, messageId: 'unknown', data: { to } });
        return;
      }
      const allowed = LAYERS[from] ?? [];
      if (!allowed.includes(to))
        context.report({
          node,
          messageId: 'forbidden',
          data: { from, to, allowed: allowed.length === 0 ? 'nothing' : allowed.join(', ') },
        });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => check(node, node.source.value),
    };
  },
};

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
    files: ['src/**/*.ts'],
    plugins: { edgellm: { rules: { layers: layersRule } } },
    rules: { 'edgellm/layers': 'error' },
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
