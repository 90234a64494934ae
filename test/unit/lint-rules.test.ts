// The linter's guards, proven to catch what they exist for: src/core stays pure (no I/O imports,
// no clock, no randomness, no host globals) and every layer of src/ imports only the layers
// below it (LAYERS in eslint.config.js). Probe files are linted from memory.
import { describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';

const PROBE = 'src/core/model/purity-probe.ts';
const LAYER_PROBES = [
  'src/agent/layer-probe.ts',
  'src/operator/requests/layer-probe.ts',
  'src/core/layer-probe.ts',
  'src/runtime/layer-probe.ts',
  'src/operator/layer-probe.ts',
];
// Let the type-aware parser accept files no tsconfig lists.
const eslint = new ESLint({
  cwd: process.cwd(),
  overrideConfig: {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: [PROBE, ...LAYER_PROBES] } },
    },
  },
});

async function violations(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

const coreViolations = (code: string): Promise<string[]> => violations(code, PROBE);

describe('src/core purity lint rules', () => {
  it.each([
    [
      "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n",
      'no-restricted-imports',
    ],
    [
      "import * as k8s from '@kubernetes/client-node';\nexport const k = k8s;\n",
      'no-restricted-imports',
    ],
    ["import pino from 'pino';\nexport const p = pino;\n", 'no-restricted-imports'],
    ['export const now = (): number => Date.now();\n', 'no-restricted-properties'],
    ['export const r = (): number => Math.random();\n', 'no-restricted-properties'],
    ['export const d = (): Date => new Date();\n', 'no-restricted-syntax'],
    ['export const env = (): string | undefined => process.env.HOME;\n', 'no-restricted-globals'],
  ])('rejects %j', async (code, rule) => {
    const messages = await coreViolations(code);
    expect(messages.some((m) => m.startsWith(`${rule}:`))).toBe(true);
  });

  it('accepts pure code', async () => {
    expect(await coreViolations('export const double = (x: number): number => 2 * x;\n')).toEqual(
      [],
    );
  });
});

describe('layer lint rules (edgellm/layers)', () => {
  it.each([
    ['src/agent/layer-probe.ts', '../cli/input.js', 'src/agent may not import src/cli'],
    [
      'src/operator/requests/layer-probe.ts',
      '../../agent/executor.js',
      'src/operator may not import src/agent',
    ],
    ['src/core/layer-probe.ts', '../operator/manager.js', 'src/core may not import src/operator'],
    ['src/runtime/layer-probe.ts', '../agent/config.js', 'src/runtime may not import src/agent'],
    ['src/operator/layer-probe.ts', '../sim/svg.js', 'src/operator may not import src/sim'],
  ])('%s importing %s is an error', async (file, source, message) => {
    const messages = await violations(`export * from '${source}';\n`, file);
    expect(messages.some((m) => m.startsWith('edgellm/layers:') && m.includes(message))).toBe(true);
  });

  it('accepts imports down the layers and within a layer', async () => {
    const code = [
      "export { parseWith } from '../../util/validation.js';",
      "export { dftsp } from '../../core/scheduler/dftsp.js';",
      "export { AgentClient } from '../../agent-client/client.js';",
      "export { PHASE } from '../api/constants.js';",
      '',
    ].join('\n');
    const messages = await violations(code, 'src/operator/requests/layer-probe.ts');
    expect(messages.filter((m) => m.startsWith('edgellm/layers:'))).toEqual([]);
  });
});
