// `make tiny-models`: writes the generated tiny llama models (one per quantization type) to
// .cache/models/tiny-<generator source hash>/, skipping the ones already there.

import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { buildTinyModel } from '../gguf/tiny-model.js';
import { TINY_MODEL_QUANTIZATIONS, tinyModelPath, tinyModelsDir } from './catalog.js';

await mkdir(tinyModelsDir(), { recursive: true });
for (const type of TINY_MODEL_QUANTIZATIONS) {
  const path = tinyModelPath(type);
  if (existsSync(path)) continue;
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, buildTinyModel({ type }));
  await rename(tmp, path);
  process.stdout.write(`wrote ${path}\n`);
}
process.stdout.write(`tiny models: ${tinyModelsDir()}\n`);
