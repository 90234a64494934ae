// A Model variant's source (spec.variants[].source) parsed into what a fetch needs: an http(s)
// URL, an OCI artifact (registry, repository, tag or digest) or a file in a PersistentVolumeClaim.
// The CRD's CEL rules reject malformed sources at the API server; this parser is the same contract
// for callers that are not the API server (the fetch command, tests).
import { FETCH_REASON, ModelFetchError } from './errors.js';

export type ModelSource =
  | { readonly kind: 'http'; readonly url: string }
  | {
      readonly kind: 'oci';
      readonly registry: string;
      readonly repository: string;
      /** A tag, or a digest `sha256:<hex>`. */
      readonly reference: string;
    }
  | {
      readonly kind: 'pvc';
      readonly namespace: string;
      readonly claim: string;
      /** Path of the file inside the volume, without a leading slash. */
      readonly path: string;
    };

const OCI =
  /^oci:\/\/([A-Za-z0-9.-]+(?::[0-9]{1,5})?)\/([a-z0-9]+(?:[._/-][a-z0-9]+)*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(sha256:[a-f0-9]{64}))$/;
const PVC =
  /^pvc:\/\/([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?)\/([^/\s]+(?:\/[^/\s]+)*)$/;

export function parseModelSource(source: string): ModelSource {
  if (source.startsWith('http://') || source.startsWith('https://')) {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw new ModelFetchError(FETCH_REASON.invalidSource, `${source} is not a valid URL`);
    }
    return { kind: 'http', url: url.toString() };
  }
  const oci = OCI.exec(source);
  if (oci) {
    const [, registry = '', repository = '', tag, digest] = oci;
    return { kind: 'oci', registry, repository, reference: digest ?? tag ?? '' };
  }
  const pvc = PVC.exec(source);
  if (pvc) {
    const [, namespace = '', claim = '', path = ''] = pvc;
    if (path.split('/').some((s) => s === '.' || s === '..')) {
      throw new ModelFetchError(
        FETCH_REASON.invalidSource,
        `${source}: the path may not contain . or ..`,
      );
    }
    return { kind: 'pvc', namespace, claim, path };
  }
  throw new ModelFetchError(
    FETCH_REASON.invalidSource,
    `${source} is not a model source: use https://host/path.gguf, oci://registry/repository:tag (or @sha256:digest) or pvc://namespace/claim/path.gguf`,
  );
}
