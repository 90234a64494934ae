// Assembles the images' file trees from the description (deploy/images/images.json):
//   <out>/base/       the pinned Debian libraries Node needs, Node from its npm package, users
//   <out>/<image>/    the app: production node_modules, dist/src and the listed files
// Downloads are cached in <cache> and verified against their pinned checksums.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  IMAGE_NAMES,
  pinnedNodeVersion,
  type ImageDescription,
  type ImageName,
} from './description.ts';

export class ImageBuildError extends Error {
  override readonly name = 'ImageBuildError';
}

function run(command: string, args: readonly string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (result.error !== undefined) {
    throw new ImageBuildError(
      `${command} could not run (${result.error.message}); is it installed?`,
    );
  }
  if (result.status !== 0) {
    throw new ImageBuildError(
      `${command} ${args.join(' ')} failed (exit ${String(result.status)}) in ${cwd}:\n${result.stderr.slice(-3000)}`,
    );
  }
  return result.stdout;
}

function fileHash(
  path: string,
  algorithm: 'sha256' | 'sha512',
  encoding: 'hex' | 'base64',
): string {
  return createHash(algorithm).update(readFileSync(path)).digest(encoding);
}

/**
 * `apt-get download` into `dir`; on failure runs `apt-get update` once (a fresh machine or
 * container may have no package lists) and tries again. Returns whether it succeeded.
 */
export function aptDownload(spec: string, dir: string): boolean {
  const download = (): boolean =>
    spawnSync('apt-get', ['download', spec], { cwd: dir, stdio: 'ignore' }).status === 0;
  if (download()) return true;
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  return download();
}

/** Downloads (unless cached) and verifies each pinned Debian package, then extracts it. */
function installDebianPackages(description: ImageDescription, cache: string, root: string): void {
  const { packages, architecture } = description.debian;
  const dir = join(cache, 'debs');
  mkdirSync(dir, { recursive: true });
  for (const pkg of packages) {
    const file = join(dir, `${pkg.name}_${pkg.version.replace(':', '%3a')}_${architecture}.deb`);
    if (!existsSync(file) && !aptDownload(`${pkg.name}:${architecture}=${pkg.version}`, dir)) {
      throw new ImageBuildError(
        `apt-get download ${pkg.name}=${pkg.version} failed (after apt-get update). If the Debian mirror ` +
          `no longer has this version (security updates replace old ones), re-pin with ` +
          `\`node scripts/images/main.ts pin-debs\` and commit deploy/images/images.json.`,
      );
    }
    const actual = fileHash(file, 'sha256', 'hex');
    if (actual !== pkg.sha256) {
      rmSync(file, { force: true });
      throw new ImageBuildError(
        `${pkg.name}=${pkg.version}: sha256 ${actual} is not the pinned ${pkg.sha256} (deploy/images/images.json); the download was removed`,
      );
    }
    run('dpkg-deb', ['-x', file, root], dir);
  }
  for (const path of description.debian.remove)
    rmSync(join(root, path), { recursive: true, force: true });
  const docs = join(root, 'usr', 'share', 'doc');
  if (existsSync(docs)) {
    for (const pkg of readdirSync(docs)) {
      for (const entry of readdirSync(join(docs, pkg))) {
        if (!description.debian.keepDocs.includes(entry))
          rmSync(join(docs, pkg, entry), { recursive: true, force: true });
      }
    }
  }
}

/** Node from its pinned npm package (the version scripts/ensure-node.sh pins). */
function installNode(
  description: ImageDescription,
  repoRoot: string,
  cache: string,
  root: string,
): string {
  const version = pinnedNodeVersion(repoRoot);
  const { package: name, integrity, files } = description.node;
  const expected = integrity[version];
  const dir = join(cache, 'node');
  mkdirSync(dir, { recursive: true });
  const tarball = join(dir, `${name}-${version}.tgz`);
  if (!existsSync(tarball))
    run('npm', ['pack', `${name}@${version}`, '--pack-destination', dir, '--loglevel=error'], dir);
  const actual = `sha512-${fileHash(tarball, 'sha512', 'base64')}`;
  if (expected === undefined) {
    throw new ImageBuildError(
      `no integrity pinned for ${name}@${version} (scripts/ensure-node.sh's version): add "${version}": "${actual}" to node.integrity in deploy/images/images.json after checking it against \`npm view ${name}@${version} dist.integrity\``,
    );
  }
  if (actual !== expected) {
    rmSync(tarball, { force: true });
    throw new ImageBuildError(
      `${name}@${version}: integrity ${actual} is not the pinned ${expected}; the download was removed`,
    );
  }
  const unpacked = join(dir, `unpacked-${version}`);
  rmSync(unpacked, { recursive: true, force: true });
  mkdirSync(unpacked);
  run(
    'tar',
    ['-xzf', tarball, '-C', unpacked, ...Object.keys(files).map((f) => `package/${f}`)],
    dir,
  );
  for (const [from, to] of Object.entries(files)) {
    mkdirSync(join(root, to, '..'), { recursive: true });
    cpSync(join(unpacked, 'package', from), join(root, to));
  }
  rmSync(unpacked, { recursive: true, force: true });
  return version;
}

function writeUsers(description: ImageDescription, root: string): void {
  const { name, uid, gid, home } = description.user;
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(
    join(root, 'etc', 'passwd'),
    `root:x:0:0:root:/root:/usr/sbin/nologin\n${name}:x:${uid}:${gid}:${name}:${home}:/usr/sbin/nologin\n`,
  );
  writeFileSync(join(root, 'etc', 'group'), `root:x:0:\n${name}:x:${gid}:\n`);
  mkdirSync(join(root, 'tmp'), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
}

/**
 * Production node_modules for one image: `npm install --omit=dev` (not `npm ci`: the lockfile
 * lacks other platforms' optional packages, see the Makefile) of package.json without the
 * image's npmRemove packages, install scripts off (nothing is built or downloaded), then only the
 * kept packages of each listed scope. Cached per image while package.json and the lockfile match.
 */
function installNodeModules(
  description: ImageDescription,
  image: ImageName,
  repoRoot: string,
  cache: string,
): string {
  const spec = description.images[image];
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  for (const name of spec.npmRemove) delete pkg.dependencies?.[name];
  const lock = readFileSync(join(repoRoot, 'package-lock.json'), 'utf8');
  const manifest = JSON.stringify(pkg, null, 2);
  const key = createHash('sha256')
    .update(manifest)
    .update(lock)
    .update(JSON.stringify(spec))
    .digest('hex');
  const staging = join(cache, 'npm', image);
  const stamp = join(staging, '.edgellm-key');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === key) return staging;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(join(staging, 'package.json'), manifest);
  writeFileSync(join(staging, 'package-lock.json'), lock);
  run(
    'npm',
    [
      'install',
      '--omit=dev',
      '--no-save',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
    ],
    staging,
  );
  for (const [scope, keep] of Object.entries(spec.keepOnlyInScope)) {
    const dir = join(staging, 'node_modules', scope);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir))
      if (!keep.includes(entry)) rmSync(join(dir, entry), { recursive: true, force: true });
  }
  for (const path of spec.removePaths)
    rmSync(join(staging, path), { recursive: true, force: true });
  for (const name of spec.npmRemove) {
    if (existsSync(join(staging, 'node_modules', name))) {
      throw new ImageBuildError(
        `${name} is still in the ${image} image's node_modules after leaving it out of package.json`,
      );
    }
  }
  rmSync(join(staging, 'node_modules', '.package-lock.json'), { force: true });
  writeFileSync(stamp, key);
  return staging;
}

/** Builds <out>/base and <out>/<image>/ for every image; returns the Node version used. */
export function buildRootfs(
  description: ImageDescription,
  repoRoot: string,
  out: string,
  cache: string,
): string {
  if (!existsSync(join(repoRoot, 'dist', 'src', 'cli', 'main.js'))) {
    throw new ImageBuildError('dist/src is missing: run `make build` first (make images does)');
  }
  rmSync(out, { recursive: true, force: true });
  const base = join(out, 'base');
  mkdirSync(base, { recursive: true });
  installDebianPackages(description, cache, base);
  const nodeVersion = installNode(description, repoRoot, cache, base);
  writeUsers(description, base);
  for (const image of IMAGE_NAMES) {
    const app = join(out, image, description.appDir.replace(/^\//, ''));
    mkdirSync(app, { recursive: true });
    const staging = installNodeModules(description, image, repoRoot, cache);
    cpSync(join(staging, 'node_modules'), join(app, 'node_modules'), { recursive: true });
    for (const file of description.images[image].files) {
      cpSync(join(repoRoot, file), join(app, file), { recursive: true });
    }
  }
  return nodeVersion;
}
