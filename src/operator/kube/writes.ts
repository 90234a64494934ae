// The operator's writes to the API server: status merge patches through the status
// subresource (so a status write never changes metadata.generation, and the controllers'
// generation filters ignore their own writes) and core/v1 Events.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { CustomResource } from './informer.js';

const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export const FIELD_MANAGER = 'edgellm-operator';

/** A condition in metav1.Condition shape. */
export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

/**
 * Sets a condition in a list: lastTransitionTime moves only when the status changes.
 * Returns a new list (conditions of other types kept).
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const old = i >= 0 ? list[i] : undefined;
  const merged: Condition = {
    ...next,
    lastTransitionTime:
      old && old.status === next.status ? old.lastTransitionTime : now.toISOString(),
  };
  if (i >= 0) list[i] = merged;
  else list.push(merged);
  return list;
}

export class StatusWriter {
  private readonly api: k8s.CustomObjectsApi;

  constructor(kubeConfig: k8s.KubeConfig) {
    this.api = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  }

  /** Merge-patches `status` of a namespaced (namespace given) or cluster-scoped object. */
  async patch<T>(
    resource: CustomResource,
    name: string,
    namespace: string | undefined,
    status: Record<string, unknown>,
    resourceVersion?: string,
  ): Promise<T> {
    const body = {
      ...(resourceVersion === undefined ? {} : { metadata: { resourceVersion } }),
      status,
    };
    const { group, version, plural } = resource;
    return (
      namespace === undefined
        ? await this.api.patchClusterCustomObjectStatus(
            { group, version, plural, name, body, fieldManager: FIELD_MANAGER },
            MERGE_PATCH,
          )
        : await this.api.patchNamespacedCustomObjectStatus(
            { group, version, namespace, plural, name, body, fieldManager: FIELD_MANAGER },
            MERGE_PATCH,
          )
    ) as T;
  }
}

export const EVENT_TYPE = { normal: 'Normal', warning: 'Warning' } as const;
export type EventType = (typeof EVENT_TYPE)[keyof typeof EVENT_TYPE];

/** Records core/v1 Events; a failed write is logged, never thrown (events are best effort). */
export class EventRecorder {
  private readonly core: k8s.CoreV1Api;

  constructor(
    kubeConfig: k8s.KubeConfig,
    private readonly log: Logger,
    /** Namespace of events about cluster-scoped objects. */
    private readonly clusterNamespace = 'default',
  ) {
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  record(object: k8s.KubernetesObject, type: EventType, reason: string, message: string): void {
    const meta = object.metadata ?? {};
    const namespace = meta.namespace ?? this.clusterNamespace;
    const now = new Date();
    const body: k8s.CoreV1Event = {
      metadata: { generateName: `${meta.name ?? 'object'}.`, namespace },
      involvedObject: {
        ...(object.apiVersion === undefined ? {} : { apiVersion: object.apiVersion }),
        ...(object.kind === undefined ? {} : { kind: object.kind }),
        ...(meta.name === undefined ? {} : { name: meta.name }),
        ...(meta.namespace === undefined ? {} : { namespace: meta.namespace }),
        ...(meta.uid === undefined ? {} : { uid: meta.uid }),
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: FIELD_MANAGER },
      reportingComponent: FIELD_MANAGER,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    this.core.createNamespacedEvent({ namespace, body }).catch((error: unknown) => {
      this.log.warn({ err: error, reason }, 'could not record event');
    });
  }
}
