// The operator's writes to the API server: typed status merge patches through the status
// subresource (so a status write never changes metadata.generation, and the controllers'
// generation filters ignore their own writes) and core/v1 Events.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { EdgeNode, EdgeNodeStatus } from '../../gen/crds/edgenode.js';
import type { InferenceRequest, InferenceRequestStatus } from '../../gen/crds/inferencerequest.js';
import { ModelResource, type Model, type ModelStatus } from '../../gen/crds/model.js';
import { RateLimiter } from '../../util/rate-limit.js';
import { EdgeNodeResource, InferenceRequestResource } from '../api/constants.js';

const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export const FIELD_MANAGER = 'edgellm-operator';

/** A JSON merge patch of T: a field set to null is removed. */
export type MergePatch<T> = { [K in keyof T]?: T[K] | null };

export class StatusWriter {
  private readonly api: k8s.CustomObjectsApi;

  constructor(kubeConfig: k8s.KubeConfig) {
    this.api = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  }

  /** Merge-patches an InferenceRequest's status; with `resourceVersion`, only that version. */
  patchRequest(
    name: string,
    namespace: string,
    status: MergePatch<InferenceRequestStatus>,
    resourceVersion?: string,
  ): Promise<InferenceRequest> {
    return this.patch(InferenceRequestResource, name, namespace, status, resourceVersion);
  }

  /** Merge-patches an EdgeNode's status. */
  patchEdgeNode(name: string, status: MergePatch<EdgeNodeStatus>): Promise<EdgeNode> {
    return this.patch(EdgeNodeResource, name, undefined, status);
  }

  /** Merge-patches a Model's status. */
  patchModel(name: string, status: MergePatch<ModelStatus>): Promise<Model> {
    return this.patch(ModelResource, name, undefined, status);
  }

  private async patch<T>(
    resource: { readonly group: string; readonly version: string; readonly plural: string },
    name: string,
    namespace: string | undefined,
    status: object,
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

export const EVENT_DEFAULTS = {
  /**
   * Events written per second on average, with bursts up to `burst`: beyond that they are dropped
   * (counted, and logged at debug), as client-go's recorder drops what its queue cannot hold, so
   * a storm of failures (admission control shedding thousands) does not double the API server's
   * load.
   */
  ratePerSecond: 20,
  burst: 200,
} as const;

/**
 * Records core/v1 Events; a failed write is logged, never thrown (events are best effort), and
 * writes beyond EVENT_DEFAULTS' rate are dropped.
 */
export class EventRecorder {
  private readonly core: k8s.CoreV1Api;
  private readonly limiter = new RateLimiter(() => Date.now());

  constructor(
    kubeConfig: k8s.KubeConfig,
    private readonly log: Logger,
    /** Called with the reason of each event dropped over the rate. */
    private readonly onDropped: (reason: string) => void = () => undefined,
    /** Namespace of events about cluster-scoped objects. */
    private readonly clusterNamespace = 'default',
  ) {
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  record(object: k8s.KubernetesObject, type: EventType, reason: string, message: string): void {
    const meta = object.metadata ?? {};
    if (!this.limiter.take('events', EVENT_DEFAULTS.ratePerSecond, EVENT_DEFAULTS.burst)) {
      this.onDropped(reason);
      this.log.debug({ reason, object: meta.name }, 'event dropped over the rate');
      return;
    }
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
