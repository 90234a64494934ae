// ttlSecondsAfterFinished: a keyed controller, like Kubernetes' TTL-after-finished controller.
// A finished request with a TTL is queued again at its expiry (not found by scanning every
// request on a timer) and deleted then; deleting it lets the garbage collector remove what it
// owns (a spilled output).
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import { InferenceRequestResource } from '../api/constants.js';
import type { Clock } from '../kube/clock.js';
import { isNotFound } from '../kube/api-errors.js';
import { Controller, type ReconcileOutcome } from '../kube/controller.js';
import { objectKey, splitKey, type Informer } from '../kube/informer.js';
import type { OperatorMetrics } from '../metrics.js';
import { isFinished } from './request-facts.js';

export interface TtlControllerOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly requests: Informer<InferenceRequest>;
  readonly metrics: OperatorMetrics;
  readonly log: Logger;
  readonly clock: Clock;
}

/** When a request may be deleted (epoch ms), or undefined when it has no TTL or runs still. */
export function expiryMs(r: InferenceRequest): number | undefined {
  const ttl = r.spec.ttlSecondsAfterFinished;
  const done = r.status?.completionTime;
  if (ttl === undefined || done === undefined || !isFinished(r)) return undefined;
  const at = Date.parse(done);
  return Number.isFinite(at) ? at + ttl * 1000 : undefined;
}

export class TtlController {
  private readonly custom: k8s.CustomObjectsApi;
  private readonly controller: Controller;

  constructor(private readonly options: TtlControllerOptions) {
    this.custom = options.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.controller = new Controller({
      name: 'ttl',
      workers: 1,
      log: options.log,
      metrics: options.metrics,
      clock: options.clock,
      reconcile: (key) => this.reconcile(key),
    });
  }

  /** Queues finished requests with a TTL as the informer reports them, until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { requests } = this.options;
    const consider = (r: InferenceRequest): void => {
      if (expiryMs(r) !== undefined) this.controller.enqueue(objectKey(r));
    };
    const off = requests.on({
      add: consider,
      update: (_old, r) => {
        consider(r);
      },
    });
    try {
      for (const r of requests.list()) consider(r);
      await this.controller.run(signal);
    } finally {
      off();
    }
  }

  private async reconcile(key: string): Promise<ReconcileOutcome | undefined> {
    const r = this.options.requests.get(key);
    if (!r) return undefined;
    const at = expiryMs(r);
    if (at === undefined) return undefined;
    const wait = at - this.options.clock.now();
    if (wait > 0) return { requeueAfterMs: wait };
    const { namespace, name } = splitKey(key);
    await this.custom
      .deleteNamespacedCustomObject({
        group: InferenceRequestResource.group,
        version: InferenceRequestResource.version,
        plural: InferenceRequestResource.plural,
        namespace: namespace ?? 'default',
        name,
      })
      .catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
    this.options.log.info(
      { request: key, ttl: r.spec.ttlSecondsAfterFinished },
      'deleted finished request (ttlSecondsAfterFinished)',
    );
    return undefined;
  }
}
