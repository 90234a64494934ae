// Writes OCI images (image-spec v1) from folders, without a container engine: each layer is a
// reproducible tar of one folder (GNU tar: sorted, owner root, mtime 0), gzip-compressed; the
// images go into one OCI image layout and a tar of it, which `ctr images import`, skopeo
// (`oci-archive:`) and crane read. Reference names are in the index's annotations.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createWriteStream,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export interface Layer {
  readonly digest: string;
  readonly diffId: string;
  readonly size: number;
  readonly uncompressedSize: number;
}

export interface ImageConfig {
  /** Full reference, e.g. docker.io/edgellm/agent:0.1.0. */
  readonly ref: string;
  readonly layers: readonly Layer[];
  readonly user: string;
  readonly env: readonly string[];
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly workingDir: string;
  readonly ports: readonly number[];
  readonly labels: Readonly<Record<string, string>>;
}

export interface WrittenImage {
  readonly ref: string;
  readonly manifestDigest: string;
  /** Sum of the compressed layers (what a registry stores and a pull transfers). */
  readonly compressedBytes: number;
  /** Sum of the uncompressed layers (what the image takes on a node). */
  readonly uncompressedBytes: number;
}

const EPOCH = '1970-01-01T00:00:00Z';
const MEDIA = {
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  config: 'application/vnd.oci.image.config.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
} as const;

/** An OCI image layout folder being written. */
export class OciLayout {
  readonly dir: string;
  private readonly manifests: object[] = [];

  constructor(dir: string) {
    this.dir = dir;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }

  private writeBlob(data: Buffer | string): { digest: string; size: number } {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(this.dir, 'blobs', 'sha256', hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  }

  /** Adds one layer: the reproducible tar of everything in `folder`, gzip-compressed. */
  async addLayer(folder: string): Promise<Layer> {
    const entries = readdirSync(folder).sort();
    const tar = spawn(
      'tar',
      [
        '--create',
        '--file=-',
        '--sort=name',
        '--mtime=@0',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '--format=posix',
        '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
        '-C',
        folder,
        ...entries,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    tar.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => tar.on('close', resolve));
    const diff = createHash('sha256');
    const compressed = createHash('sha256');
    let uncompressedSize = 0;
    let size = 0;
    const tmp = join(this.dir, 'blobs', 'sha256', `.tmp-${process.pid}`);
    tar.stdout.on('data', (chunk: Buffer) => {
      diff.update(chunk);
      uncompressedSize += chunk.length;
    });
    const gzip = createGzip({ level: 6 });
    gzip.on('data', (chunk: Buffer) => {
      compressed.update(chunk);
      size += chunk.length;
    });
    await pipeline(tar.stdout, gzip, createWriteStream(tmp));
    const code = await exited;
    if (code !== 0) throw new Error(`tar of ${folder} failed (exit ${String(code)}): ${stderr}`);
    const hex = compressed.digest('hex');
    renameSync(tmp, join(this.dir, 'blobs', 'sha256', hex));
    return {
      digest: `sha256:${hex}`,
      diffId: `sha256:${diff.digest('hex')}`,
      size,
      uncompressedSize,
    };
  }

  addImage(image: ImageConfig): WrittenImage {
    const config = this.writeBlob(
      JSON.stringify({
        created: EPOCH,
        architecture: 'amd64',
        os: 'linux',
        config: {
          User: image.user,
          Env: image.env,
          Entrypoint: image.entrypoint,
          ...(image.cmd.length > 0 ? { Cmd: image.cmd } : {}),
          WorkingDir: image.workingDir,
          ExposedPorts: Object.fromEntries(image.ports.map((p) => [`${p}/tcp`, {}])),
          Labels: image.labels,
        },
        rootfs: { type: 'layers', diff_ids: image.layers.map((l) => l.diffId) },
        history: image.layers.map(() => ({ created: EPOCH, created_by: 'edgellm scripts/images' })),
      }),
    );
    const manifest = this.writeBlob(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        config: { mediaType: MEDIA.config, ...config },
        layers: image.layers.map((l) => ({
          mediaType: MEDIA.layer,
          digest: l.digest,
          size: l.size,
        })),
      }),
    );
    this.manifests.push({
      mediaType: MEDIA.manifest,
      ...manifest,
      platform: { architecture: 'amd64', os: 'linux' },
      annotations: {
        'io.containerd.image.name': image.ref,
        'org.opencontainers.image.ref.name': image.ref,
      },
    });
    return {
      ref: image.ref,
      manifestDigest: manifest.digest,
      compressedBytes: image.layers.reduce((sum, l) => sum + l.size, 0),
      uncompressedBytes: image.layers.reduce((sum, l) => sum + l.uncompressedSize, 0),
    };
  }

  /** Writes index.json, then a tar of the whole layout at `archive`. */
  async finish(archive: string): Promise<number> {
    writeFileSync(
      join(this.dir, 'index.json'),
      JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests: this.manifests }),
    );
    const tar = spawn(
      'tar',
      [
        '--create',
        `--file=${archive}`,
        '--sort=name',
        '-C',
        this.dir,
        'oci-layout',
        'index.json',
        'blobs',
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const code = await new Promise<number | null>((resolve) => tar.on('close', resolve));
    if (code !== 0)
      throw new Error(`tar of the OCI layout ${this.dir} failed (exit ${String(code)})`);
    return statSync(archive).size;
  }
}
