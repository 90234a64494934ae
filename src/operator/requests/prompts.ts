// Prompts of requests that name a ConfigMap or Secret key (spec.promptFrom). spec.promptFrom is
// immutable, so each prompt is read once, when its request is first considered, and kept while
// the request waits; a few are read at a time.
import * as k8s from '@kubernetes/client-node';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import { eachLimited } from '../../util/concurrency.js';
import { errorMessage } from '../../util/errors.js';
import { apiErrorMessage } from '../kube/api-errors.js';
import { objectKey } from '../kube/informer.js';

/** Prompt reads in flight at once. */
const READ_CONCURRENCY = 8;

/** A promptFrom that cannot be read; the message says what to fix. */
export class PromptUnreadableError extends Error {
  override name = 'PromptUnreadableError';
}

export interface ResolvedPrompts {
  /** Prompt text by request key. */
  readonly text: ReadonlyMap<string, string>;
  /** UTF-8 length by request key (the round's token estimate). */
  readonly bytes: ReadonlyMap<string, number>;
  /** Requests whose prompt cannot be read, with why. */
  readonly unreadable: readonly { readonly request: InferenceRequest; readonly message: string }[];
}

export class PromptStore {
  private readonly core: k8s.CoreV1Api;
  /** By request uid. */
  private readonly cache = new Map<string, string>();

  constructor(kubeConfig: k8s.KubeConfig) {
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  /** The promptFrom prompts of `pending`; forgets those of requests no longer pending. */
  async resolve(pending: readonly InferenceRequest[]): Promise<ResolvedPrompts> {
    const waiting = new Set(pending.map((r) => r.metadata.uid ?? objectKey(r)));
    for (const uid of this.cache.keys()) if (!waiting.has(uid)) this.cache.delete(uid);
    const text = new Map<string, string>();
    const bytes = new Map<string, number>();
    const unreadable: { request: InferenceRequest; message: string }[] = [];
    await eachLimited(
      pending.filter((r) => r.spec.prompt === undefined),
      READ_CONCURRENCY,
      async (r) => {
        const key = objectKey(r);
        const uid = r.metadata.uid ?? key;
        let prompt = this.cache.get(uid);
        if (prompt === undefined) {
          try {
            prompt = await this.read(r);
          } catch (error) {
            unreadable.push({ request: r, message: errorMessage(error) });
            return;
          }
          this.cache.set(uid, prompt);
        }
        text.set(key, prompt);
        bytes.set(key, Buffer.byteLength(prompt, 'utf8'));
      },
    );
    return { text, bytes, unreadable };
  }

  private async read(r: InferenceRequest): Promise<string> {
    const from = r.spec.promptFrom;
    const namespace = r.metadata.namespace ?? 'default';
    if (from?.configMapKeyRef) {
      const { name, key } = from.configMapKeyRef;
      const cm = await this.core
        .readNamespacedConfigMap({ name, namespace })
        .catch((e: unknown) => {
          throw new PromptUnreadableError(
            `cannot read ConfigMap ${namespace}/${name} (spec.promptFrom.configMapKeyRef): ${apiErrorMessage(e)}`,
          );
        });
      const text = cm.data?.[key];
      if (text === undefined)
        throw new PromptUnreadableError(
          `ConfigMap ${namespace}/${name} has no key ${key} (spec.promptFrom.configMapKeyRef.key)`,
        );
      return text;
    }
    if (from?.secretKeyRef) {
      const { name, key } = from.secretKeyRef;
      const secret = await this.core
        .readNamespacedSecret({ name, namespace })
        .catch((e: unknown) => {
          throw new PromptUnreadableError(
            `cannot read Secret ${namespace}/${name} (spec.promptFrom.secretKeyRef): ${apiErrorMessage(e)}`,
          );
        });
      const data = secret.data?.[key];
      if (data === undefined)
        throw new PromptUnreadableError(
          `Secret ${namespace}/${name} has no key ${key} (spec.promptFrom.secretKeyRef.key)`,
        );
      return Buffer.from(data, 'base64').toString('utf8');
    }
    throw new PromptUnreadableError('spec.prompt or spec.promptFrom is required');
  }
}
