// An OCI artifact's model layer, found the way registries serve artifacts (the distribution API:
// GET /v2/<repository>/manifests/<reference>, then the layer's blob), with the anonymous bearer
// token flow registries such as Docker Hub and GHCR answer a 401 with. The model layer is the one
// whose media type names GGUF (application/vnd.ollama.image.model as Ollama pushes them, or any
// type containing "gguf"), else the manifest's only layer.
import { FETCH_REASON, ModelFetchError } from './errors.js';
import { ensureOk, get, request } from './http.js';
import type { ModelSource } from './source.js';

type OciSource = Extract<ModelSource, { kind: 'oci' }>;

export interface OciOptions {
  /** Registries (host[:port]) reached over plain HTTP; localhost and loopback always are. */
  readonly insecureRegistries?: readonly string[];
}

export interface OciBlob {
  readonly url: string;
  readonly digest: string;
  readonly size: number;
  /** Headers the blob GET needs (a bearer token). */
  readonly headers: Readonly<Record<string, string>>;
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

function isLoopback(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, '');
  return host === 'localhost' || host.startsWith('127.') || host === '[::1]';
}

function baseUrl(source: OciSource, options: OciOptions): string {
  const plain =
    isLoopback(source.registry) || (options.insecureRegistries ?? []).includes(source.registry);
  return `${plain ? 'http' : 'https'}://${source.registry}/v2/${source.repository}`;
}

/** The token a 401's `WWW-Authenticate: Bearer realm=...,service=...,scope=...` offers anonymously. */
async function bearerToken(challenge: string, source: OciSource): Promise<string | undefined> {
  if (!/^Bearer\s/i.test(challenge)) return undefined;
  const params = new Map<string, string>();
  for (const m of challenge.matchAll(/(\w+)="([^"]*)"/g)) params.set(m[1] ?? '', m[2] ?? '');
  const realm = params.get('realm');
  if (realm === undefined) return undefined;
  const url = new URL(realm);
  const service = params.get('service');
  if (service !== undefined) url.searchParams.set('service', service);
  url.searchParams.set('scope', params.get('scope') ?? `repository:${source.repository}:pull`);
  const body = (await (await get(url.toString())).json()) as {
    token?: string;
    access_token?: string;
  };
  return body.token ?? body.access_token;
}

interface Manifest {
  readonly mediaType?: string;
  readonly layers?: readonly { mediaType?: string; digest?: string; size?: number }[];
  readonly manifests?: readonly unknown[];
}

async function fetchManifest(
  source: OciSource,
  options: OciOptions,
): Promise<{ manifest: Manifest; headers: Record<string, string> }> {
  const url = `${baseUrl(source, options)}/manifests/${source.reference}`;
  const accept = { Accept: MANIFEST_TYPES };
  let response = await request(url, { headers: accept });
  let headers: Record<string, string> = {};
  if (response.status === 401) {
    await response.body?.cancel();
    const token = await bearerToken(response.headers.get('www-authenticate') ?? '', source);
    if (token === undefined) {
      throw new ModelFetchError(
        FETCH_REASON.sourceUnreachable,
        `GET ${url}: the registry requires credentials edgellm does not have (anonymous pull only)`,
      );
    }
    headers = { Authorization: `Bearer ${token}` };
    response = await get(url, { headers: { ...accept, ...headers } });
  } else {
    await ensureOk(response, url);
  }
  return { manifest: (await response.json()) as Manifest, headers };
}

export async function resolveOciBlob(
  source: OciSource,
  options: OciOptions = {},
): Promise<OciBlob> {
  const { manifest, headers } = await fetchManifest(source, options);
  const where = `oci://${source.registry}/${source.repository}${source.reference.startsWith('sha256:') ? '@' : ':'}${source.reference}`;
  if (manifest.manifests !== undefined) {
    throw new ModelFetchError(
      FETCH_REASON.notGguf,
      `${where} is an image index (several platforms); a model artifact is a single manifest whose layer is the GGUF file`,
    );
  }
  const layers = manifest.layers ?? [];
  const named = layers.filter((l) => /gguf|ollama\.image\.model/i.test(l.mediaType ?? ''));
  const layer = named.length === 1 ? named[0] : layers.length === 1 ? layers[0] : undefined;
  if (layer?.digest === undefined) {
    throw new ModelFetchError(
      FETCH_REASON.notGguf,
      `${where} has no single model layer (layer media types: ${layers.map((l) => l.mediaType ?? '?').join(', ') || 'none'}); push the GGUF file as the artifact's only layer or with a media type containing "gguf"`,
    );
  }
  return {
    url: `${baseUrl(source, options)}/blobs/${layer.digest}`,
    digest: layer.digest,
    size: layer.size ?? 0,
    headers,
  };
}
