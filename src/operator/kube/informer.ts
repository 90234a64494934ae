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
import { apiErrorMessage } from './api-errors.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';

export const INFORMER_DEFAULTS = {
  /** First restart delay after an error (doubled per consecutive error). */
  restartBaseDelayMs: 1000,
  /** Largest restart delay. */
  restartMaxDelayMs: 30_000,
  /**
   * While waiting to restart, the API server is asked this often whether it answers again
   * (GET /version); when it does, the informer restarts at once instead of sleeping out its
   * backoff, so caches are fresh within about this long of the server's return.
   */
  probeIntervalMs: 1000,
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
  readonly probeIntervalMs?: number;
}

/** A cache of objects of one kind kept current by list + watch, with event handlers. */
export interface Informer<T extends k8s.KubernetesObject> {
  readonly resource: string;
  /** Resolves once the first list has filled the cache (never rejects; errors are retried). */
  readonly synced: Promise<void>;
  readonly hasSynced: boolean;
  /** Whether the cache reflects the server now: listed since the last restart, watching. */
  readonly isFresh: boolean;
  /** Resolves once the cache is fresh (at once when it is). */
  whenFresh(): Promise<void>;
  /** Registers handlers; returns the function that removes them again. */
  on(handlers: InformerHandlers<T>): () => void;
  /** The cached object with this key (`namespace/name` or `name`). */
  get(key: string): T | undefined;
  /** Every cached object, or those of one namespace. */
  list(namespace?: string): readonly T[];
  start(): void;
  stop(): Promise<void>;
}

/** An informer over one list/watch path (one namespace, or all). */
export class ListWatchInformer<T extends k8s.KubernetesObject> implements Informer<T> {
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
  private probeTimer: TimerHandle = undefined;
  private restarts = 0;
  /** Listed since the last (re)start and watching: the cache reflects the server. */
  private fresh = false;
  private freshWaiters: (() => void)[] = [];
  private readonly probe: () => Promise<unknown>;
  private readonly probeIntervalMs: number;

  constructor(options: InformerOptions<T>) {
    this.resource = options.resource;
    this.log = options.log.child({ informer: options.resource });
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics;
    this.baseDelayMs = options.restartBaseDelayMs ?? INFORMER_DEFAULTS.restartBaseDelayMs;
    this.maxDelayMs = options.restartMaxDelayMs ?? INFORMER_DEFAULTS.restartMaxDelayMs;
    this.probeIntervalMs = options.probeIntervalMs ?? INFORMER_DEFAULTS.probeIntervalMs;
    const version = options.kubeConfig.makeApiClient(k8s.VersionApi);
    this.probe = () => version.getCode();
    this.synced = new Promise<void>((resolve) => {
      this.markSynced = resolve;
    });
    const list = async (): Promise<k8s.KubernetesListObject<T>> => {
      const result = await options.list();
      // ListWatch fills its cache synchronously right after this promise resolves; a
      // macrotask later the first list is in the cache.
      setImmediate(() => {
        this.failures = 0;
        this.markFresh();
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

  /** Whether the cache reflects the server now: listed since the last restart, watching. */
  get isFresh(): boolean {
    return this.fresh;
  }

  /** Resolves once the cache is fresh (at once when it is). */
  whenFresh(): Promise<void> {
    if (this.fresh) return Promise.resolve();
    return new Promise((resolve) => this.freshWaiters.push(resolve));
  }

  private markFresh(): void {
    this.fresh = true;
    for (const waiter of this.freshWaiters.splice(0)) waiter();
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
    this.fresh = false;
    if (this.restartTimer !== undefined) this.clock.clearTimeout(this.restartTimer);
    if (this.probeTimer !== undefined) this.clock.clearTimeout(this.probeTimer);
    this.restartTimer = undefined;
    this.probeTimer = undefined;
    await this.listWatch.stop();
  }

  private run(): void {
    // start() resolves once the watch is established: after a fresh list, or (when the informer
    // restarts with the resourceVersion it had) resumed from where it stopped. Either way the
    // cache reflects the server from then on.
    this.listWatch.start().then(
      () => {
        this.failures = 0;
        this.markFresh();
      },
      (error: unknown) => {
        this.scheduleRestart(error);
      },
    );
  }

  private scheduleRestart(error: unknown): void {
    this.fresh = false;
    if (!this.running || this.restartTimer !== undefined) return;
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** this.failures);
    this.failures++;
    this.log.warn(
      { err: apiErrorMessage(error), retryInMs: delay, failures: this.failures },
      'informer stopped on an error; restarting after backoff',
    );
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartNow();
    }, delay);
    if (delay > this.probeIntervalMs) this.scheduleProbe();
  }

  /** Ends the backoff: restarts now. */
  private restartNow(): void {
    if (this.restartTimer !== undefined) this.clock.clearTimeout(this.restartTimer);
    if (this.probeTimer !== undefined) this.clock.clearTimeout(this.probeTimer);
    this.restartTimer = undefined;
    this.probeTimer = undefined;
    if (!this.running) return;
    this.restarts++;
    this.metrics?.informerRestartsTotal.inc({ resource: this.resource });
    this.run();
  }

  /** During a backoff: asks the server every probe interval; an answer ends the backoff. */
  private scheduleProbe(): void {
    this.probeTimer = this.clock.setTimeout(() => {
      this.probeTimer = undefined;
      if (!this.running || this.restartTimer === undefined) return;
      this.probe().then(
        () => {
          if (this.restartTimer === undefined) return;
          this.log.info('the API server answers again; restarting the informer now');
          this.failures = 0;
          this.restartNow();
        },
        () => {
          if (this.restartTimer !== undefined) this.scheduleProbe();
        },
      );
    }, this.probeIntervalMs);
  }
}

/** Group/version/plural of a custom resource. */
export interface CustomResource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

type InformerCommon = Omit<InformerOptions<never>, 'resource' | 'path' | 'list' | 'kubeConfig'>;

/**
 * An informer over a custom resource: cluster-scoped; or namespaced, across all namespaces or in
 * the given ones (one list/watch per namespace behind one cache view).
 */
export function customResourceInformer<T extends k8s.KubernetesObject>(
  kubeConfig: k8s.KubeConfig,
  resource: CustomResource & { readonly namespaced: boolean },
  options: InformerCommon & { readonly namespaces?: readonly string[] },
): Informer<T> {
  const api = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const { group, version, plural } = resource;
  const selector =
    options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector };
  const { namespaces, ...common } = options;
  if (!resource.namespaced)
    return new ListWatchInformer<T>({
      ...common,
      kubeConfig,
      resource: plural,
      path: `/apis/${group}/${version}/${plural}`,
      list: () =>
        api.listClusterCustomObject({ group, version, plural, ...selector }) as Promise<
          k8s.KubernetesListObject<T>
        >,
    });
  if (namespaces === undefined || namespaces.length === 0)
    return new ListWatchInformer<T>({
      ...common,
      kubeConfig,
      resource: plural,
      path: `/apis/${group}/${version}/${plural}`,
      list: () =>
        api.listCustomObjectForAllNamespaces({
          group,
          version,
          resourcePlural: plural,
          ...selector,
        }) as Promise<k8s.KubernetesListObject<T>>,
    });
  return new MultiNamespaceInformer(
    namespaces.map(
      (namespace) =>
        new ListWatchInformer<T>({
          ...common,
          kubeConfig,
          resource: plural,
          path: `/apis/${group}/${version}/namespaces/${namespace}/${plural}`,
          list: () =>
            api.listNamespacedCustomObject({
              group,
              version,
              namespace,
              plural,
              ...selector,
            }) as Promise<k8s.KubernetesListObject<T>>,
        }),
    ),
  );
}

/** An informer over pods of one namespace (all namespaces when none is given), by label. */
export function podInformer(
  kubeConfig: k8s.KubeConfig,
  options: InformerCommon & { readonly namespace?: string },
): Informer<k8s.V1Pod> {
  const api = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const selector =
    options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector };
  const { namespace, ...common } = options;
  return new ListWatchInformer<k8s.V1Pod>({
    ...common,
    kubeConfig,
    resource: 'pods',
    path: namespace === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${namespace}/pods`,
    list: () =>
      namespace === undefined
        ? api.listPodForAllNamespaces(selector)
        : api.listNamespacedPod({ namespace, ...selector }),
  });
}

/** An informer over the cluster's Nodes, by label. */
export function nodeInformer(
  kubeConfig: k8s.KubeConfig,
  options: InformerCommon,
): Informer<k8s.V1Node> {
  const api = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const selector =
    options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector };
  return new ListWatchInformer<k8s.V1Node>({
    ...options,
    kubeConfig,
    resource: 'nodes',
    path: '/api/v1/nodes',
    list: () => api.listNode(selector),
  });
}

/** One cache view over informers of the same kind in different namespaces. */
export class MultiNamespaceInformer<T extends k8s.KubernetesObject> implements Informer<T> {
  readonly resource: string;
  readonly synced: Promise<void>;

  constructor(private readonly parts: readonly Informer<T>[]) {
    this.resource = parts[0]?.resource ?? '';
    this.synced = Promise.all(parts.map((p) => p.synced)).then(() => undefined);
  }

  get hasSynced(): boolean {
    return this.parts.every((p) => p.hasSynced);
  }

  get isFresh(): boolean {
    return this.parts.every((p) => p.isFresh);
  }

  async whenFresh(): Promise<void> {
    await Promise.all(this.parts.map((p) => p.whenFresh()));
  }

  on(handlers: InformerHandlers<T>): () => void {
    const offs = this.parts.map((p) => p.on(handlers));
    return () => {
      for (const off of offs) off();
    };
  }

  get(key: string): T | undefined {
    for (const p of this.parts) {
      const found = p.get(key);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  list(namespace?: string): readonly T[] {
    return this.parts.flatMap((p) => p.list(namespace));
  }

  start(): void {
    for (const p of this.parts) p.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.parts.map((p) => p.stop()));
  }
}
