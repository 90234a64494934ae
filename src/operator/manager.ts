// The operator process: informers on EdgeNodes, InferenceRequests and agent pods; the EdgeNode
// and request controllers, run only while this replica holds the leader Lease (so two replicas
// can run and only one acts; the standby takes over within the lease duration, at once when the
// leader releases the Lease on a clean stop); one HTTP port for /metrics, /healthz and /readyz.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { startMetricsServer, type MetricsServer } from '../telemetry/metrics-server.js';
import type { EdgeNode } from '../gen/crds/edgenode.js';
import type { InferenceRequest } from '../gen/crds/inferencerequest.js';
import {
  APP_NAME,
  COMPONENT,
  EdgeNodeResource,
  InferenceRequestResource,
  LABELS,
} from './api/constants.js';
import { AgentPool } from './agents/pool.js';
import { EdgeNodeController } from './edgenodes/controller.js';
import { RequestController } from './requests/controller.js';
import { Controller } from './kube/controller.js';
import {
  customResourceInformer,
  generationChanged,
  objectKey,
  podInformer,
  type Informer,
} from './kube/informer.js';
import type { Clock } from './kube/clock.js';
import { LeaderElector, LEASE_DEFAULTS } from './kube/lease.js';
import { PooledKubeConfig } from './kube/config.js';
import { EventRecorder, StatusWriter } from './kube/writes.js';
import { createOperatorMetrics, type OperatorMetrics } from './metrics.js';

export const OPERATOR_DEFAULTS = {
  metricsListen: '0.0.0.0:8080',
  leaseName: 'edgellm-operator',
  leaseNamespace: 'default',
  edgeNodeWorkers: 4,
} as const;

export interface ManagerOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly log: Logger;
  /** host:port of /metrics, /healthz, /readyz; `false` serves none (tests). */
  readonly metricsListen: string | false;
  readonly leaderElection: boolean;
  readonly leaseNamespace?: string;
  readonly leaseName?: string;
  readonly leaseDurationSeconds?: number;
  readonly identity?: string;
  readonly heartbeatSeconds?: number;
  readonly registry?: Registry;
  /** Longest output kept inline in an InferenceRequest's status; longer goes to a ConfigMap/Secret. */
  readonly maxStatusOutputChars?: number;
  /** Time of leader election and the controllers (the system clock unless a test drives it). */
  readonly clock?: Clock;
  /**
   * Namespaces whose InferenceRequests this operator serves; empty or absent: all. With a list,
   * the operator needs RBAC on requests, ConfigMaps and Secrets only there.
   */
  readonly watchNamespaces?: readonly string[];
  /** Namespace of the agent pods found by EdgeNode spec.agent.nodeName (default: all). */
  readonly agentNamespace?: string;
  /** Server name to verify agent pods found by spec.agent.nodeName against (see AgentPool). */
  readonly agentServerName?: string;
}

export class Manager {
  readonly registry: Registry;
  readonly metrics: OperatorMetrics;
  readonly nodes: Informer<EdgeNode>;
  readonly requests: Informer<InferenceRequest>;
  readonly identity: string;
  private readonly pods: Informer<k8s.V1Pod>;
  private readonly agents: AgentPool;
  private readonly elector: LeaderElector | undefined;
  private readonly stopController = new AbortController();
  private server: MetricsServer | undefined;
  private running: Promise<void> | undefined;
  private leading = false;
  /** options.kubeConfig with connections reused across API calls. */
  private readonly kubeConfig: PooledKubeConfig;

  constructor(private readonly options: ManagerOptions) {
    const { log } = options;
    const kubeConfig = PooledKubeConfig.from(options.kubeConfig);
    this.kubeConfig = kubeConfig;
    this.registry = options.registry ?? new Registry();
    if (!options.registry) collectDefaultMetrics({ register: this.registry });
    this.metrics = createOperatorMetrics(this.registry);
    this.identity = options.identity ?? `${hostname()}-${randomBytes(4).toString('hex')}`;
    const common = { log, metrics: this.metrics };
    this.nodes = customResourceInformer<EdgeNode>(
      kubeConfig,
      { ...EdgeNodeResource, namespaced: false },
      common,
    );
    this.requests = customResourceInformer<InferenceRequest>(
      kubeConfig,
      { ...InferenceRequestResource, namespaced: true },
      { ...common, ...(options.watchNamespaces ? { namespaces: options.watchNamespaces } : {}) },
    );
    this.pods = podInformer(kubeConfig, {
      ...common,
      labelSelector: `${LABELS.name}=${APP_NAME},${LABELS.component}=${COMPONENT.agent}`,
      ...(options.agentNamespace === undefined ? {} : { namespace: options.agentNamespace }),
    });
    this.agents = new AgentPool({
      kubeConfig,
      agentPods: () => this.pods.list(),
      ...(options.agentServerName === undefined
        ? {}
        : { agentServerName: options.agentServerName }),
    });
    this.elector = options.leaderElection
      ? new LeaderElector({
          kubeConfig,
          namespace: options.leaseNamespace ?? OPERATOR_DEFAULTS.leaseNamespace,
          name: options.leaseName ?? OPERATOR_DEFAULTS.leaseName,
          identity: this.identity,
          leaseDurationSeconds: options.leaseDurationSeconds ?? LEASE_DEFAULTS.leaseDurationSeconds,
          log,
          metrics: this.metrics,
          ...(options.clock === undefined ? {} : { clock: options.clock }),
        })
      : undefined;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** host:port of the HTTP server once started. */
  get address(): string | undefined {
    return this.server?.address;
  }

  /** Starts informers, the HTTP server and the leader election; resolves once serving. */
  async start(): Promise<void> {
    const { log, metricsListen } = this.options;
    if (metricsListen !== false) {
      const i = metricsListen.lastIndexOf(':');
      this.server = await startMetricsServer(
        this.registry,
        metricsListen.slice(0, i).replace(/^\[|\]$/g, ''),
        Number(metricsListen.slice(i + 1)),
        {
          '/healthz': () => undefined,
          '/readyz': () =>
            this.nodes.hasSynced && this.requests.hasSynced && this.pods.hasSynced
              ? undefined
              : 'informers not synced yet',
        },
      );
      log.info({ address: this.server.address }, 'serving /metrics, /healthz, /readyz');
    }
    for (const informer of [this.nodes, this.requests, this.pods] as const) informer.start();
    const signal = this.stopController.signal;
    if (this.elector) {
      this.running = this.elector.run(signal, {
        onStartedLeading: (term) => {
          this.leading = true;
          void this.lead(term).finally(() => {
            this.leading = false;
          });
        },
      });
    } else {
      this.leading = true;
      this.running = this.lead(signal);
    }
  }

  /** The controllers, for one leadership term. */
  private async lead(term: AbortSignal): Promise<void> {
    const { log } = this.options;
    const kubeConfig = this.kubeConfig;
    // A term that starts after an API server outage waits for caches that reflect the server
    // again, so its first rounds never decide on what the informers saw before the outage.
    await Promise.all([this.nodes.whenFresh(), this.requests.whenFresh(), this.pods.whenFresh()]);
    if (term.aborted) return;
    log.info({ identity: this.identity }, 'controllers starting');
    const status = new StatusWriter(kubeConfig);
    const events = new EventRecorder(kubeConfig, log);
    const requestController = new RequestController({
      kubeConfig,
      nodes: this.nodes,
      requests: this.requests,
      agents: this.agents,
      status,
      events,
      metrics: this.metrics,
      log,
      ...(this.options.maxStatusOutputChars === undefined
        ? {}
        : { maxStatusOutputChars: this.options.maxStatusOutputChars }),
      ...(this.options.clock === undefined ? {} : { clock: this.options.clock }),
    });
    const edgeNodes = new EdgeNodeController({
      nodes: this.nodes,
      agents: this.agents,
      status,
      events,
      metrics: this.metrics,
      log,
      ...(this.options.heartbeatSeconds === undefined
        ? {}
        : { heartbeatSeconds: this.options.heartbeatSeconds }),
      onReadinessChange: () => {
        requestController.trigger();
      },
      currentBatch: (node) => requestController.inFlight.get(node),
    });
    const nodeController = new Controller({
      name: 'edgenode',
      workers: OPERATOR_DEFAULTS.edgeNodeWorkers,
      log,
      metrics: this.metrics,
      reconcile: (key) => edgeNodes.reconcile(key),
      ...(this.options.clock === undefined ? {} : { clock: this.options.clock }),
    });
    // Spec changes (generation) and new/deleted nodes; status writes do not re-trigger.
    const offNodes = this.nodes.on({
      add: (n) => {
        nodeController.enqueue(objectKey(n));
      },
      update: (old, n) => {
        if (generationChanged(old, n)) nodeController.enqueue(objectKey(n));
      },
      delete: (n) => {
        nodeController.enqueue(objectKey(n));
      },
    });
    for (const n of this.nodes.list()) nodeController.enqueue(objectKey(n));
    try {
      await Promise.all([nodeController.run(term), requestController.run(term)]);
    } finally {
      offNodes();
    }
    log.info('controllers stopped');
  }

  /** Stops controllers (releasing the Lease), informers and the HTTP server. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.running?.catch(() => undefined);
    await Promise.all([this.nodes.stop(), this.requests.stop(), this.pods.stop()]);
    this.agents.close();
    await this.server?.close();
  }
}
