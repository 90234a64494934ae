// `make gen` / `make check-gen` run scripts/gen-crds.ts: every spec and status field of the CRDs
// must have a description (what `kubectl explain` prints), and a missing one fails the run with
// the field's path, so CI catches it.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parseDocument } from 'yaml';

const run = promisify(execFile);
const REQUEST_CRD = 'edgellm.io_inferencerequests.yaml';
const TEMPERATURE = [
  'spec',
  'versions',
  0,
  'schema',
  'openAPIV3Schema',
  'properties',
  'spec',
  'properties',
  'sampling',
  'properties',
  'temperature',
  'description',
];

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A copy of crds/ (edited by `edit`) and an output folder; runs the generator on them. */
async function generate(
  edit: (crdsDir: string) => void,
): Promise<{ code: number; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'gen-crds-'));
  dirs.push(dir);
  const crds = join(dir, 'crds');
  cpSync('crds', crds, { recursive: true });
  edit(crds);
  try {
    const { stderr } = await run(process.execPath, ['scripts/gen-crds.ts', join(dir, 'out'), crds]);
    return { code: 0, stderr };
  } catch (error) {
    const e = error as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? '' };
  }
}

describe('scripts/gen-crds.ts', () => {
  it('generates from CRDs whose every field is described', async () => {
    const result = await generate(() => undefined);
    expect(result).toEqual({ code: 0, stderr: '' });
  });

  it('fails, naming the field, when a field has no description', async () => {
    const result = await generate((crds) => {
      const file = join(crds, REQUEST_CRD);
      const doc = parseDocument(readFileSync(file, 'utf8'));
      expect(doc.hasIn(TEMPERATURE)).toBe(true);
      doc.deleteIn(TEMPERATURE);
      writeFileSync(file, doc.toString());
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('InferenceRequest fields without a description');
    expect(result.stderr).toContain('spec.sampling.temperature');
  });
});
