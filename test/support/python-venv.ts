// A Python virtual environment with pinned packages from PyPI, made once per requirements file
// and Python version under the gitignored .cache/python/<key>/ (a fresh machine makes it, a warm
// one reuses it). For tests that drive edgellm with clients nobody here wrote.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../src/runtime/models/catalog.js';

const run = promisify(execFile);

/** The venv's python for `requirements` (a path relative to the repository root). */
export async function pythonWith(requirements: string): Promise<string> {
  const root = repoRoot();
  const { stdout: version } = await run('python3', ['--version']);
  const key = createHash('sha256')
    .update(version)
    .update(readFileSync(join(root, requirements)))
    .digest('hex')
    .slice(0, 16);
  const dir = join(root, '.cache', 'python', key);
  const python = join(dir, 'bin', 'python');
  if (existsSync(python)) return python;
  // Made aside and renamed into place, so a run that dies half-way leaves nothing that looks
  // ready. Only `bin/python` is used: scripts like bin/pip name the folder they were made in.
  const tmp = `${dir}.tmp.${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  await run('python3', ['-m', 'venv', tmp]);
  await run(
    join(tmp, 'bin', 'python'),
    [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      '-r',
      join(root, requirements),
    ],
    { timeout: 600_000 },
  );
  renameSync(tmp, dir);
  return python;
}
