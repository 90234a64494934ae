// The image build without a container engine (`make images`), and the Dockerfile renderer.
//   node scripts/images/main.ts rootfs OUT              file trees of every image (rootfs.ts)
//   node scripts/images/main.ts pack ROOTFS OUTDIR      OCI layout + archive, sizes (oci.ts)
//   node scripts/images/main.ts pause BINARY ARCHIVE    the test node's pause image
//   node scripts/images/main.ts dockerfile [FILE]       deploy/docker/Dockerfile (dockerfile.ts)
//   node scripts/images/main.ts pin-debs                re-pin the Debian packages to the mirror's
//                                                       current versions (after security updates)
// Runs on Node's type stripping (make provides Node >= 22), like scripts/gen-crds.ts.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appVersion, IMAGE_NAMES, loadDescription, type ImageDescription } from './description.ts';
import { renderDockerfile } from './dockerfile.ts';
import { OciLayout, type WrittenImage } from './oci.ts';
import { aptDownload, buildRootfs, ImageBuildError } from './rootfs.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE = join(repoRoot, '.cache', 'images');
/** Where `ctr`, the kubelet and the chart find the images: docker.io/<name>:<appVersion>. */
const REGISTRY = 'docker.io';
export const PAUSE_REF = 'registry.k8s.io/pause:edgellm';

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

async function pack(rootfs: string, outDir: string): Promise<void> {
  const description = loadDescription(repoRoot);
  const tag = appVersion(repoRoot);
  const layout = new OciLayout(join(outDir, 'oci'));
  const base = await layout.addLayer(join(rootfs, 'base'));
  const written: WrittenImage[] = [];
  for (const name of IMAGE_NAMES) {
    const spec = description.images[name];
    const app = await layout.addLayer(join(rootfs, name));
    written.push(
      layout.addImage({
        ref: `${REGISTRY}/${spec.name}:${tag}`,
        layers: [base, app],
        user: `${description.user.uid}:${description.user.gid}`,
        env: description.env,
        entrypoint: spec.entrypoint,
        cmd: spec.cmd,
        workingDir: description.appDir,
        ports: spec.ports,
        labels: {
          'org.opencontainers.image.title': spec.name,
          'org.opencontainers.image.description': spec.description,
        },
      }),
    );
  }
  const archive = join(outDir, 'edgellm-images.oci.tar');
  const archiveBytes = await layout.finish(archive);
  console.log('image                              compressed   uncompressed  manifest');
  for (const image of written) {
    console.log(
      `${image.ref.padEnd(34)} ${mib(image.compressedBytes).padStart(10)}  ${mib(image.uncompressedBytes).padStart(12)}  ${image.manifestDigest.slice(0, 19)}`,
    );
  }
  console.log(
    `shared base layer: ${mib(base.size)} compressed, ${mib(base.uncompressedSize)} uncompressed`,
  );
  console.log(
    `archive (ctr images import, skopeo oci-archive:): ${archive} (${mib(archiveBytes)})`,
  );
  writeFileSync(
    join(outDir, 'images.json'),
    `${JSON.stringify({ archive, baseLayer: base, images: written }, null, 2)}\n`,
  );
}

async function pause(binary: string, archive: string): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'edgellm-pause-'));
  try {
    copyFileSync(binary, join(root, 'pause'));
    chmodSync(join(root, 'pause'), 0o755);
    const layout = new OciLayout(`${archive}.layout`);
    const layer = await layout.addLayer(root);
    layout.addImage({
      ref: PAUSE_REF,
      layers: [layer],
      user: '65535:65535',
      env: [],
      entrypoint: ['/pause'],
      cmd: [],
      workingDir: '/',
      ports: [],
      labels: {},
    });
    mkdirSync(dirname(archive), { recursive: true });
    await layout.finish(archive);
    rmSync(`${archive}.layout`, { recursive: true, force: true });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Pins each Debian package of the description to the version apt offers now, with its sha256. */
function pinDebs(): void {
  const path = join(repoRoot, 'deploy', 'images', 'images.json');
  const description = JSON.parse(readFileSync(path, 'utf8')) as ImageDescription;
  const dir = mkdtempSync(join(tmpdir(), 'edgellm-debs-'));
  try {
    for (const pkg of description.debian.packages) {
      if (!aptDownload(`${pkg.name}:${description.debian.architecture}`, dir)) {
        throw new ImageBuildError(`apt-get download ${pkg.name} failed`);
      }
      const file = readdirSync(dir).find((f) => f.startsWith(`${pkg.name}_`));
      if (file === undefined)
        throw new ImageBuildError(`apt-get download ${pkg.name} wrote no file`);
      const version = decodeURIComponent(file.split('_')[1] ?? '');
      const sha256 = createHash('sha256')
        .update(readFileSync(join(dir, file)))
        .digest('hex');
      if (version !== pkg.version) console.log(`${pkg.name}: ${pkg.version} -> ${version}`);
      Object.assign(pkg, { version, sha256 });
      rmSync(join(dir, file));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  writeFileSync(path, `${JSON.stringify(description, null, 2)}\n`);
  console.log(`pinned in ${path}; run \`make images\` and commit it`);
}

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  if (command === 'rootfs' && rest[0] !== undefined) {
    const version = buildRootfs(loadDescription(repoRoot), repoRoot, resolve(rest[0]), CACHE);
    console.log(`image file trees in ${rest[0]} (Node ${version})`);
  } else if (command === 'pack' && rest[0] !== undefined && rest[1] !== undefined) {
    await pack(resolve(rest[0]), resolve(rest[1]));
  } else if (command === 'pause' && rest[0] !== undefined && rest[1] !== undefined) {
    await pause(resolve(rest[0]), resolve(rest[1]));
  } else if (command === 'pin-debs') {
    pinDebs();
  } else if (command === 'dockerfile') {
    const text = renderDockerfile(loadDescription(repoRoot), appVersion(repoRoot));
    writeFileSync(rest[0] ?? join(repoRoot, 'deploy', 'docker', 'Dockerfile'), text);
  } else {
    throw new ImageBuildError(
      'usage: node scripts/images/main.ts rootfs OUT | pack ROOTFS OUTDIR | pause BINARY ARCHIVE | dockerfile [FILE] | pin-debs',
    );
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`edgellm images: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
