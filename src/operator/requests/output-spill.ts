// Where a request's output goes: inline in status.output when it fits, else into a ConfigMap (a
// Secret when the prompt came from one) that the request owns, with a preview in status.output.
import * as k8s from '@kubernetes/client-node';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import { InferenceRequestResource } from '../api/constants.js';
import type { OutputRef } from './transitions.js';

/** Key of the output in the ConfigMap/Secret that holds a long output. */
export const OUTPUT_KEY = 'output';

/** Characters of a spilled output previewed in status.output. */
const PREVIEW_CHARS = 1024;

export interface StoredOutput {
  readonly output: string;
  readonly outputRef?: OutputRef;
}

export class OutputSpill {
  private readonly core: k8s.CoreV1Api;

  constructor(
    kubeConfig: k8s.KubeConfig,
    /** Longest output kept inline (at most the CRD's maxLength of status.output). */
    private readonly maxInlineChars: number,
  ) {
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  /** Output within the status limit goes inline; longer output into an owned ConfigMap/Secret. */
  async store(r: InferenceRequest, text: string): Promise<StoredOutput> {
    if (text.length <= this.maxInlineChars) return { output: text };
    const namespace = r.metadata.namespace ?? 'default';
    const name = `${r.metadata.name ?? 'request'}-output`.slice(0, 253);
    const metadata: k8s.V1ObjectMeta = {
      name,
      namespace,
      ownerReferences: [
        {
          apiVersion: InferenceRequestResource.apiVersion,
          kind: InferenceRequestResource.kind,
          name: r.metadata.name ?? '',
          uid: r.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    };
    const secret = r.spec.promptFrom?.secretKeyRef !== undefined;
    const create = secret
      ? () =>
          this.core.createNamespacedSecret({
            namespace,
            body: { metadata, stringData: { [OUTPUT_KEY]: text } },
          })
      : () =>
          this.core.createNamespacedConfigMap({
            namespace,
            body: { metadata, data: { [OUTPUT_KEY]: text } },
          });
    const replace = secret
      ? () =>
          this.core.replaceNamespacedSecret({
            name,
            namespace,
            body: { metadata, stringData: { [OUTPUT_KEY]: text } },
          })
      : () =>
          this.core.replaceNamespacedConfigMap({
            name,
            namespace,
            body: { metadata, data: { [OUTPUT_KEY]: text } },
          });
    try {
      await create();
    } catch (error) {
      if (!(error instanceof k8s.ApiException && error.code === 409)) throw error;
      await replace();
    }
    const kind = secret ? 'Secret' : 'ConfigMap';
    return {
      output: `${text.slice(0, Math.min(PREVIEW_CHARS, this.maxInlineChars))}… (${text.length} characters; full output in ${kind} ${name}, key ${OUTPUT_KEY})`,
      outputRef: { kind, name, key: OUTPUT_KEY },
    };
  }
}
