// The OCI writer of `make images` (scripts/images/oci.ts): layers are reproducible (the same
// folder gives the same digests whatever its files' times and owners), and the layout and its
// archive hold what image-spec v1 and `ctr images import` need: an index naming each image,
// manifests, configs with the layers' diff ids, blobs named by their sha256.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { OciLayout } from '../../../scripts/images/oci.js';

let dir: string;

function tree(name: string, mtime: number): string {
  const root = join(dir, name);
  mkdirSync(join(root, 'app', 'bin'), { recursive: true });
  writeFileSync(join(root, 'app', 'bin', 'hello'), '#!/hello\n', { mode: 0o755 });
  writeFileSync(join(root, 'app', 'data.txt'), 'data\n');
  for (const path of ['app/bin/hello', 'app/data.txt', 'app/bin', 'app']) {
    utimesSync(join(root, path), mtime, mtime);
  }
  return root;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgellm-oci-test-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('OciLayout', () => {
  it('writes the same layer digest for the same files, whatever their times', async () => {
    const a = await new OciLayout(join(dir, 'layout-a')).addLayer(tree('a', 1_000));
    const b = await new OciLayout(join(dir, 'layout-b')).addLayer(tree('b', 2_000_000_000));
    expect(b).toEqual(a);
    const other = join(dir, 'c');
    tree('c', 1_000);
    writeFileSync(join(other, 'app', 'data.txt'), 'other\n');
    expect((await new OciLayout(join(dir, 'layout-c')).addLayer(other)).diffId).not.toBe(a.diffId);
  });

  it('writes an image layout and archive that name each image and verify by digest', async () => {
    const layoutDir = join(dir, 'layout');
    const layout = new OciLayout(layoutDir);
    const layer = await layout.addLayer(tree('img', 1_000));
    const written = layout.addImage({
      ref: 'docker.io/example/hello:1.0',
      layers: [layer],
      user: '1000:1000',
      env: ['PATH=/app/bin'],
      entrypoint: ['/app/bin/hello'],
      cmd: ['--flag'],
      workingDir: '/app',
      ports: [8080],
      labels: { title: 'hello' },
    });
    const archive = join(dir, 'images.oci.tar');
    await layout.finish(archive);
    const blob = (digest: string): Buffer =>
      readFileSync(join(layoutDir, 'blobs', 'sha256', digest.replace('sha256:', '')));
    const sha = (data: Buffer): string =>
      `sha256:${createHash('sha256').update(data).digest('hex')}`;

    const index = JSON.parse(readFileSync(join(layoutDir, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations: Record<string, string> }[];
    };
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]?.annotations).toEqual({
      'io.containerd.image.name': 'docker.io/example/hello:1.0',
      'org.opencontainers.image.ref.name': 'docker.io/example/hello:1.0',
    });
    expect(index.manifests[0]?.digest).toBe(written.manifestDigest);
    const manifestBytes = blob(written.manifestDigest);
    expect(sha(manifestBytes)).toBe(written.manifestDigest);
    const manifest = JSON.parse(manifestBytes.toString()) as {
      config: { digest: string };
      layers: { digest: string; size: number }[];
    };
    expect(manifest.layers).toEqual([
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: layer.digest,
        size: layer.size,
      },
    ]);
    const layerBytes = blob(layer.digest);
    expect([sha(layerBytes), layerBytes.length]).toEqual([layer.digest, layer.size]);
    const config = JSON.parse(blob(manifest.config.digest).toString()) as {
      config: Record<string, unknown>;
      rootfs: { diff_ids: string[] };
    };
    expect(config.rootfs.diff_ids).toEqual([layer.diffId]);
    expect(config.config).toMatchObject({
      User: '1000:1000',
      Entrypoint: ['/app/bin/hello'],
      Cmd: ['--flag'],
      ExposedPorts: { '8080/tcp': {} },
    });
    // The layer lists the tree, owned by root, without a leading ./ and with modes kept.
    const listing = execFileSync('tar', ['-tzvf', '-'], { input: layerBytes, encoding: 'utf8' });
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0 .* app\/bin\/hello$/m);
    expect(listing).not.toMatch(/ \.\//);
    const entries = execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).split('\n');
    expect(entries).toEqual(expect.arrayContaining(['oci-layout', 'index.json']));
  });
});
