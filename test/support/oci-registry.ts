// A real OCI registry for tests of Model sources oci://: go-containerregistry's in-memory registry
// (built with the test cluster, test/controlplane/cmd/registry), and a push of a GGUF file as an
// artifact whose single layer is the file, the way Ollama and modelcar tools store models. The
// push speaks the distribution API (blob upload, manifest PUT) as any OCI client does.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { ensureBinary } from '../harness/controlplane.js';

/** The layer media type edgellm's fetch recognises as the model file. */
export const GGUF_LAYER_TYPE = 'application/vnd.edgellm.model.gguf';

const digestOf = (bytes: Uint8Array): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export class OciRegistry {
  private constructor(
    private readonly proc: ChildProcess,
    /** host:port */
    readonly address: string,
  ) {}

  /** Starts a registry on `host` (loopback by default; the node's pods need an address they reach). */
  static async start(host = '127.0.0.1'): Promise<OciRegistry> {
    const bin = join(dirname(ensureBinary()), 'registry');
    const proc = spawn(bin, [`--listen=${host}:0`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const lines = createInterface({ input: proc.stdout });
    const address = await new Promise<string>((resolve, reject) => {
      proc.once('exit', (code) => {
        reject(new Error(`registry exited with ${String(code)}`));
      });
      lines.on('line', (line) => {
        const m = /^listening on (.+)$/.exec(line);
        if (m?.[1] !== undefined) resolve(m[1]);
      });
    });
    return new OciRegistry(proc, address);
  }

  private async putBlob(repository: string, bytes: Uint8Array): Promise<string> {
    const digest = digestOf(bytes);
    const start = await fetch(`http://${this.address}/v2/${repository}/blobs/uploads/`, {
      method: 'POST',
    });
    if (start.status !== 202) throw new Error(`blob upload: ${start.status}`);
    const location = new URL(start.headers.get('location') ?? '', `http://${this.address}`);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, {
      method: 'PUT',
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    if (put.status !== 201) throw new Error(`blob PUT: ${put.status}`);
    return digest;
  }

  /** Pushes `bytes` as a one-layer artifact repository:tag; returns the manifest's digest. */
  async pushModel(
    repository: string,
    tag: string,
    bytes: Uint8Array,
    layerType = GGUF_LAYER_TYPE,
  ): Promise<string> {
    const empty = new TextEncoder().encode('{}');
    const config = await this.putBlob(repository, empty);
    const layer = await this.putBlob(repository, bytes);
    const manifest = new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/vnd.edgellm.model.v1',
        config: {
          mediaType: 'application/vnd.oci.empty.v1+json',
          digest: config,
          size: empty.length,
        },
        layers: [{ mediaType: layerType, digest: layer, size: bytes.length }],
      }),
    );
    const put = await fetch(`http://${this.address}/v2/${repository}/manifests/${tag}`, {
      method: 'PUT',
      body: manifest,
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    if (put.status !== 201) throw new Error(`manifest PUT: ${put.status} ${await put.text()}`);
    return digestOf(manifest);
  }

  stop(): void {
    this.proc.kill('SIGKILL');
  }
}
