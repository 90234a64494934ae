// A typed informer: @kubernetes/client-node's ListWatch (what makeInformer builds) plus what
// the library leaves out.
// - Restart with backoff. ListWatch re-lists by itself only after 410 Gone and reconnects after
//   its client-side watch timeout; any other list or watch error (403 Forbidden, 404 for a CRD
//   not yet applied, a refused connection) fires its `error` callbacks and STOPS it for good.
//   Here every such error schedules start() again after an exponential backoff, counting
//   edgellm_operator_informer_restarts_total{resource}.
// - A `synced` promise that resolves once the first list has filled the cache.
// - Update handlers receive the old object too, so predicates such as generationChanged()
//   can tell spec changes from status-only writes.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { OperatorMetrics } from '../metrics.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';

export const INFORMER_DEFAULTS = {
  /** First restart delay after an error (doubled per consecutive error). */
  restartBaseDelayMs: 1000,
  /** Largest restart delay. */
  restartMaxDelayMs: 30_000,
} as const;

/** The cache key of an object: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(object: k8s.KubernetesObject): string {
  const name = object.metadata?.name ?? '';
  const namespace = object.metadata?.namespace;
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}

/** Splits a key made by objectKey into namespace (undefined when cluster-scoped) and name. */
export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const slash = key.indexOf('/');
  return slash < 0
    ? { namespace: undefined, name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/**
 * Predicate for update events: true when the object's spec (metadata.generation) changed.
 * Status-subresource writes leave the generation as it is, so a reconciler that writes its
 * object's status does not enqueue that object again. Objects without a generation (most
 * built-in kinds without a spec/status split) always count as changed.
 */
export function generationChanged(
  old: k8s.KubernetesObject | undefined,
  current: k8s.KubernetesObject,
): boolean {
  const before = old?.metadata?.generation;
  const after = current.metadata?.generation;
  return before === undefined || after === undefined || before !== after;
}

export interface InformerHandlers<T extends k8s.KubernetesObject> {
  add?(object: T): void;
  update?(old: T | undefined, current: T): void;
  delete?(object: T): void;
}

export interface InformerOptions<T extends k8s.KubernetesObject> {
  readonly kubeConfig: k8s.KubeConfig;
  /** Resource name for logs and the `resource` metric label (e.g. `edgenodes`). */
  readonly resource: string;
  /** Watch path, e.g. `/apis/edgellm.io/v1alpha1/edgenodes` or `/api/v1/pods`. */
  readonly path: string;
  readonly list: () => Promise<k8s.KubernetesListObject<T>>;
  readonly labelSelector?: string;
  readonly log: Logger;
  readonly metrics?: Pick<OperatorMetrics, 'informerRestartsTotal'>;
  readonly clock?: Clock;
  readonly restartBaseDelayMs?: number;
  readonly restartMaxDelayMs?: number;
}

export class Informer<T extends k8s.KubernetesObject> {
  readonly resource: string;
  /** Resolves once the first list has filled the cache (never rejects; errors are retried). */
  readonly synced: Promise<void>;
  private readonly listWatch: k8s.ListWatch<T>;
  private readonly handlers: InformerHandlers<T>[] = [];
  /** Last object seen per key: the `old` of the next update. */
  private readonly seen = new Map<string, T>();
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly metrics: Pick<OperatorMetrics, 'informerRestartsTotal'> | undefined;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private markSynced: () => void = () => undefined;
  private isSynced = false;
  private running = false;
  private failures = 0;
  private restartTimer: TimerHandle = undefined;
  private restarts = 0;

  constructor(options: InformerOptions<T>) {
    this.resource = options.resource;
    this.log = options.log.child({ informer: options.resource });
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics;
    this.baseDelayMs = options.restartBaseDelayMs ?? INFORMER_DEFAULTS.restartBaseDelayMs;
    this.maxDelayMs = options.restartMaxDelayMs ?? INFORMER_DEFAULTS.restartMaxDelayMs;
    this.synced = new Promise<void>((resolve) => {
      this.markSynced = resolve;
    });
    const list = async (): Promise<k8s.KubernetesListObject<T>> => {
      const result = await options.list();
      // ListWatch fills its cache synchronously right after this promise resolves; a
      // macrotask later the first list is in the cache.
      setImmediate(() => {
        this.failures = 0;
        if (!this.isSynced) {
          this.isSynced = true;
          this.log.debug({ objects: this.listWatch.list().length }, 'informer synced');
          this.markSynced();
        }
      });
      return result;
    };
    // makeInformer(kubeConfig, path, list, labelSelector) without autostart: the same
    // ListWatch, built directly so the Watch is ours.
    this.listWatch = new k8s.ListWatch<T>(
      options.path,
      new k8s.Watch(options.kubeConfig),
      list,
      false,
      options.labelSelector,
    );
    this.listWatch.on(k8s.ADD, (object) => {
      this.failures = 0;
      const key = objectKey(object);
      this.seen.set(key, object);
      for (const h of this.handlers) h.add?.(object);
    });
    this.listWatch.on(k8s.UPDATE, (object) => {
      this.failures = 0;
      const key = objectKey(object);
      const old = this.seen.get(key);
      this.seen.set(key, object);
      for (const h of this.handlers) h.update?.(old, object);
    });
    this.listWatch.on(k8s.DELETE, (object) => {
      this.failures = 0;
      this.seen.delete(objectKey(object));
      for (const h of this.handlers) h.delete?.(object);
    });
    this.listWatch.on(k8s.ERROR, (error: unknown) => {
      this.scheduleRestart(error);
    });
  }

  get hasSynced(): boolean {
    return this.isSynced;
  }

  /** Restarts after errors so far. */
  get restartCount(): number {
    return this.restarts;
  }

  /**
   * Registers handlers (before start() to see the initial list as adds); returns the function
   * that removes them again.
   */
  on(handlers: InformerHandlers<T>): () => void {
    this.handlers.push(handlers);
    return () => {
      const at = this.handlers.indexOf(handlers);
      if (at >= 0) this.handlers.splice(at, 1);
    };
  }

  /** The cached object with this key (`namespace/name` or `name`). */
  get(key: string): T | undefined {
    const { namespace, name } = splitKey(key);
    return this.listWatch.get(name, namespace);
  }

  /** Every cached object, or those of one namespace. */
  list(namespace?: string): readonly T[] {
    return this.listWatch.list(namespace);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.restartTimer !== undefined) this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.listWatch.stop();
  }

  private run(): void {
    this.listWatch.start().catch((error: unknown) => {
      this.scheduleRestart(error);
    });
  }

  private scheduleRestart(error: unknown): void {
    if (!this.running || this.restartTimer !== undefined) return;
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** this.failures);
    this.failures++;
    this.log.warn(
      { err: describeError(error), retryInMs: delay, failures: this.failures },
      'informer stopped on an error; restarting after backoff',
    );
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.running) return;
      this.restarts++;
      this.metrics?.informerRestartsTotal.inc({ resource: this.resource });
      this.run();
    }, delay);
  }
}

/** A one-line description of a list/watch error (status code and server message when known). */
export function describeError(error: unknown): string {
  if (error instanceof k8s.ApiException) {
    const body = error.body as unknown;
    let message: string | undefined;
    if (typeof body === 'string') {
      try {
        message = (JSON.parse(body) as { message?: string }).message;
      } catch {
        message = body;
      }
    } else if (typeof body === 'object' && body !== null && 'message' in body) {
      message = String(body.message);
    }
    return `HTTP ${error.code}: ${message ?? error.message}`;
  }
  if (error instanceof Error) {
    const code = (error as Error & { statusCode?: number }).statusCode;
    return code === undefined ? error.message : `HTTP ${code}: ${error.message}`;
  }
  return String(error);
}

/** Group/version/plural of a custom resource. */
export interface CustomResource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

type InformerCommon = Omit<InformerOptions<never>, 'resource' | 'path' | 'list' | 'kubeConfig'>;

/** An informer over a custom resource: cluster-scoped, or namespaced across all namespaces. */
export function customResourceInformer<T extends k8s.KubernetesObject>(
  kubeConfig: k8s.KubeConfig,
  resource: CustomResource & { readonly namespaced: boolean },
  options: InformerCommon,
): Informer<T> {
  const api = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const { group, version, plural } = resource;
  const list = resource.namespaced
    ? () =>
        api.listCustomObjectForAllNamespaces({
          group,
          version,
          resourcePlural: plural,
          ...(options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector }),
        }) as Promise<k8s.KubernetesListObject<T>>
    : () =>
        api.listClusterCustomObject({
          group,
          version,
          plural,
          ...(options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector }),
        }) as Promise<k8s.KubernetesListObject<T>>;
  return new Informer<T>({
    ...options,
    kubeConfig,
    resource: plural,
    path: `/apis/${group}/${version}/${plural}`,
    list,
  });
}

/** An informer over pods in all namespaces, optionally by label selector. */
export function podInformer(
  kubeConfig: k8s.KubeConfig,
  options: InformerCommon,
): Informer<k8s.V1Pod> {
  const api = kubeConfig.makeApiClient(k8s.CoreV1Api);
  return new Informer<k8s.V1Pod>({
    ...options,
    kubeConfig,
    resource: 'pods',
    path: '/api/v1/pods',
    list: () =>
      api.listPodForAllNamespaces(
        options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector },
      ),
  });
}
