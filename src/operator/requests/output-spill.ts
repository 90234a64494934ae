// Where a request's output goes: inline in status.output when it fits, else into a ConfigMap (a
// Secret when the prompt came from one) that the request owns, with a preview in status.output.
import * as k8s from '@kubernetes/client-node';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import { InferenceRequestResource } from '../api/constants.js';
import { apiErrorMessage } from '../kube/api-errors.js';
import type { Clock } from '../kube/clock.js';
import { retryTransient } from '../kube/retry.js';
import type { OutputRef } from './transitions.js';

/** Key of the output in the ConfigMap/Secret that holds a long output. */
export const OUTPUT_KEY = 'output';

/** Characters of a spilled output previewed in status.output. */
const PREVIEW_CHARS = 1024;

export interface StoredOutput {
  readonly output: string;
  readonly outputRef?: OutputRef;
}

/** The ConfigMap/Secret for a long output was refused (after retries of transient errors). */
export class OutputNotStoredError extends Error {
  override name = 'OutputNotStoredError';
  constructor(
    readonly kind: 'ConfigMap' | 'Secret',
    readonly characters: number,
    readonly maxInlineChars: number,
    cause: unknown,
  ) {
    super(
      `its output (${characters} characters, more than the ${maxInlineChars} kept in status) could not be stored in a ${kind}: ${apiErrorMessage(cause)}`,
      { cause },
    );
  }
}

export class OutputSpill {
  private readonly core: k8s.CoreV1Api;

  constructor(
    kubeConfig: k8s.KubeConfig,
    /** Longest output kept inline (at most the CRD's maxLength of status.output). */
    private readonly maxInlineChars: number,
    private readonly clock: Clock,
  ) {
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  /**
   * Output within the status limit goes inline; longer output into a new ConfigMap/Secret that
   * the request owns. Its name comes from the API server (generateName `<request>-output-`), so a
   * user cannot pre-empt it with an object of their own, and an existing object is never adopted
   * or overwritten. Transient API errors are retried; a refusal (the API server's storage full,
   * a quota, the object too large) or retries running out throw OutputNotStoredError.
   */
  async store(r: InferenceRequest, text: string): Promise<StoredOutput> {
    if (text.length <= this.maxInlineChars) return { output: text };
    const namespace = r.metadata.namespace ?? 'default';
    // generateName takes at most 253 - 5 characters; the server appends 5 random ones.
    const prefix = `${r.metadata.name ?? 'request'}-output-`.slice(0, 248);
    const metadata: k8s.V1ObjectMeta = {
      generateName: prefix,
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
    const kind = secret ? 'Secret' : 'ConfigMap';
    const created = await retryTransient(
      () =>
        secret
          ? this.core.createNamespacedSecret({
              namespace,
              body: { metadata, stringData: { [OUTPUT_KEY]: text } },
            })
          : this.core.createNamespacedConfigMap({
              namespace,
              body: { metadata, data: { [OUTPUT_KEY]: text } },
            }),
      this.clock,
    ).catch((error: unknown) => {
      throw new OutputNotStoredError(kind, text.length, this.maxInlineChars, error);
    });
    const name = created.metadata?.name ?? prefix;
    return {
      output: `${text.slice(0, Math.min(PREVIEW_CHARS, this.maxInlineChars))}… (${text.length} characters; full output in ${kind} ${name}, key ${OUTPUT_KEY})`,
      outputRef: { kind, name, key: OUTPUT_KEY },
    };
  }
}
