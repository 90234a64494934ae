// The linter keeps src/core pure: no I/O imports, no clock, no randomness, no host globals.
import { describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';

const PROBE = 'src/core/model/purity-probe.ts';
// The probe is linted from memory: let the type-aware parser accept a file no tsconfig lists.
const eslint = new ESLint({
  cwd: process.cwd(),
  overrideConfig: {
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: [PROBE] } } },
  },
});

async function coreViolations(code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: PROBE });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

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
