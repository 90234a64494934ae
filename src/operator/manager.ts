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
import { warmUpSolvers } from '../core/scheduler/warm-up.js';
import {
  APP_NAME,
  COMPONENT,
  EdgeNodeResource,
  InferenceRequestResource,
  LABELS,
} from './api/constants.js';
import { AgentPool } from './agents/pool.js';
import { SCHEDULING_DEFAULTS } from './scheduling/translate.js';
import { EdgeNodeController } from './edgenodes/controller.js';
import { REQUEST_DEFAULTS, RequestController } from './requests/controller.js';
import { Controller } from './kube/controller.js';
import {
  customResourceInformer,
  generationChanged,
  objectKey,
  nodeInformer,
  podInformer,
  type Informer,
} from './kube/informer.js';
import { systemClock, type Clock } from './kube/clock.js';
import { LeaderElector, LEASE_DEFAULTS } from './kube/lease.js';
import { PooledKubeConfig } from './kube/config.js';
import { EventRecorder, StatusWriter } from './kube/writes.js';
import { createOperatorMetrics, type OperatorMetrics } from './metrics.js';
import { ApiKeys } from './openai/api-keys.js';
import { CompletionQueue } from './openai/completion-queue.js';
import { OPENAI_DEFAULTS, type OpenAiDefaults } from './openai/defaults.js';
import { unavailable } from './openai/errors.js';
import {
  LEADER_ENDPOINT_ANNOTATION,
  OPENAI_SERVER_DEFAULTS,
  OpenAiServer,
} from './openai/server.js';
import { servedModels } from './openai/served-models.js';
import { ModelResource, type Model } from '../gen/crds/model.js';
import { ModelController } from './models/controller.js';
import { LLM_POD, servingPod } from './models/llm-pods.js';
import { isPlacedNode } from './models/placement-problem.js';
import { ServedEdgeNodes } from './models/served-nodes.js';
import type { FromNodeAgent } from './edgenodes/from-node.js';
import { NodeSync } from './edgenodes/node-sync.js';

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
  /** Admission control: requests allowed to wait per node serving their model. */
  readonly maxPendingPerNode?: number;
  /** How long a generation streams before its Running status write (default 1 s; 0: at once). */
  readonly runningWriteDelayMs?: number;
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
  /** Serve the OpenAI-compatible API (undefined: no endpoint). */
  readonly openai?: OpenAiEndpointOptions;
  /** Run Model variants as LLM pods on placed EdgeNodes (undefined: no LLM pods are made). */
  readonly llmPods?: LlmPodOptions;
  /** Make EdgeNodes from the Nodes this label selector matches (undefined: none are made). */
  readonly edgeNodesFromNodes?: { readonly labelSelector: string; readonly agent: FromNodeAgent };
}

/** The LLM pods the operator makes for placed EdgeNodes (src/operator/models/). */
export interface LlmPodOptions {
  /** A Pod with an `agent` container and a `model-cache` volume (the chart renders it). */
  readonly template: k8s.V1Pod;
  /** Namespace of the pods (the agent namespace). */
  readonly namespace: string;
  readonly maxCacheBytes?: number;
  readonly contextTokens?: number;
  readonly maxSequences?: number;
  readonly insecureRegistries?: readonly string[];
  readonly placementIntervalSeconds?: number;
}

/** The OpenAI-compatible endpoint of the operator (src/operator/openai/). */
export interface OpenAiEndpointOptions {
  /** host:port to listen on. */
  readonly listen: string;
  /**
   * host:port where the other replicas reach this one's endpoint (the pod IP and port), written
   * on the Lease while it leads so that followers forward to it.
   */
  readonly advertise: string;
  readonly defaults?: OpenAiDefaults;
  /** The Secret whose entries are the API keys; undefined serves without keys. */
  readonly apiKeysSecret?: { readonly namespace: string; readonly name: string };
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly maxPending?: number;
  readonly ratePerSecond?: number;
  readonly burst?: number;
}

export class Manager {
  readonly registry: Registry;
  readonly metrics: OperatorMetrics;
  /** EdgeNodes as scheduling sees them (placed nodes with their LLM pod's models). */
  readonly nodes: Informer<EdgeNode>;
  readonly requests: Informer<InferenceRequest>;
  readonly models: Informer<Model>;
  private readonly rawNodes: Informer<EdgeNode>;
  readonly identity: string;
  private readonly pods: Informer<k8s.V1Pod>;
  /** Nodes that EdgeNodes are made from (only with options.edgeNodesFromNodes). */
  private readonly kubeNodes: Informer<k8s.V1Node> | undefined;
  private readonly agents: AgentPool;
  private readonly elector: LeaderElector | undefined;
  private readonly stopController = new AbortController();
  private server: MetricsServer | undefined;
  private running: Promise<void> | undefined;
  private leading = false;
  private readonly completions: CompletionQueue | undefined;
  private readonly openai: OpenAiServer | undefined;
  private readonly apiKeys: ApiKeys | undefined;
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
    this.rawNodes = customResourceInformer<EdgeNode>(
      kubeConfig,
      { ...EdgeNodeResource, namespaced: false },
      common,
    );
    this.models = customResourceInformer<Model>(kubeConfig, ModelResource, common);
    this.requests = customResourceInformer<InferenceRequest>(
      kubeConfig,
      { ...InferenceRequestResource, namespaced: true },
      { ...common, ...(options.watchNamespaces ? { namespaces: options.watchNamespaces } : {}) },
    );
    this.pods = podInformer(kubeConfig, {
      ...common,
      labelSelector: `${LABELS.name}=${APP_NAME},${LABELS.component} in (${COMPONENT.agent},${COMPONENT.llm})`,
      ...(options.agentNamespace === undefined ? {} : { namespace: options.agentNamespace }),
    });
    this.nodes = new ServedEdgeNodes(this.rawNodes, this.pods, this.models);
    this.kubeNodes =
      options.edgeNodesFromNodes === undefined
        ? undefined
        : nodeInformer(kubeConfig, {
            ...common,
            labelSelector: options.edgeNodesFromNodes.labelSelector,
          });
    this.agents = new AgentPool({
      kubeConfig,
      agentPods: () => this.pods.list(),
      placedNodePod: (name) => {
        const node = this.rawNodes.get(name);
        if (node === undefined || !isPlacedNode(node)) return { placed: false };
        const pod = servingPod(name, this.pods.list());
        return pod === undefined ? { placed: true } : { placed: true, pod };
      },
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
          ...(options.openai === undefined
            ? {}
            : { annotations: () => ({ [LEADER_ENDPOINT_ANNOTATION]: this.advertise() }) }),
        })
      : undefined;
    const openai = options.openai;
    if (openai !== undefined) {
      const clock = options.clock ?? systemClock;
      this.completions = new CompletionQueue({
        clock,
        maxPending: openai.maxPending ?? OPENAI_SERVER_DEFAULTS.maxPending,
        maxAttempts: REQUEST_DEFAULTS.maxAttempts,
      });
      this.apiKeys =
        openai.apiKeysSecret === undefined
          ? undefined
          : new ApiKeys(kubeConfig, openai.apiKeysSecret, log);
      this.openai = new OpenAiServer({
        queue: this.completions,
        defaults: openai.defaults ?? OPENAI_DEFAULTS,
        log,
        metrics: this.metrics,
        clock,
        ...(this.apiKeys === undefined ? {} : { apiKeys: this.apiKeys }),
        ...(openai.ratePerSecond === undefined ? {} : { ratePerSecond: openai.ratePerSecond }),
        ...(openai.burst === undefined ? {} : { burst: openai.burst }),
        ...(openai.tls === undefined ? {} : { tls: openai.tls }),
        models: () => servedModels(this.nodes.list()),
        isLeader: () => this.leading,
        leaderEndpoint: () => {
          const leader = this.elector?.leader;
          return leader === undefined || leader.identity === this.identity
            ? undefined
            : leader.annotations[LEADER_ENDPOINT_ANNOTATION];
        },
      });
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** host:port of the HTTP server once started. */
  get address(): string | undefined {
    return this.server?.address;
  }

  /** Where the other replicas reach this one's endpoint (a port 0 becomes the bound port). */
  private advertise(): string {
    const advertise = this.options.openai?.advertise ?? '';
    const bound = this.openai?.address ?? '';
    if (!advertise.endsWith(':0') || bound === '') return advertise;
    return `${advertise.slice(0, -2)}:${bound.slice(bound.lastIndexOf(':') + 1)}`;
  }

  /** host:port of the OpenAI endpoint once started. */
  get openaiAddress(): string | undefined {
    return this.openai?.address;
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
            this.nodes.hasSynced && this.requests.hasSynced
              ? undefined
              : 'informers not synced yet',
        },
      );
      log.info({ address: this.server.address }, 'serving /metrics, /healthz, /readyz');
    }
    for (const informer of [this.rawNodes, this.models, this.requests, this.pods] as const)
      informer.start();
    this.kubeNodes?.start();
    await this.apiKeys?.start();
    if (this.openai !== undefined && this.options.openai !== undefined)
      await this.openai.start(this.options.openai.listen);
    // A fresh process runs the solver's first decisions interpreted (about 10-20 ms at 256
    // requests against 1-4 ms warm): warm it on synthetic instances before it can lead, so that
    // its first rounds run compiled code (src/core/scheduler/warm-up.ts). The default policy, with
    // and without the default batch size cap.
    const warm = warmUpSolvers(() => performance.now() / 1000, {
      policies: [SCHEDULING_DEFAULTS.policy],
      maxBatchSize: SCHEDULING_DEFAULTS.maxBatchSize,
    });
    log.info(
      {
        decisions: warm.decisions,
        splitPlans: warm.splitPlans,
        milliseconds: Math.round(warm.seconds * 1000),
      },
      'solver warmed up',
    );
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
    const events = new EventRecorder(kubeConfig, log, (reason) => {
      this.metrics.eventsDroppedTotal.inc({ reason });
    });
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
      ...(this.options.runningWriteDelayMs === undefined
        ? {}
        : { runningWriteDelayMs: this.options.runningWriteDelayMs }),
      ...(this.options.maxPendingPerNode === undefined
        ? {}
        : { maxPendingPerNode: this.options.maxPendingPerNode }),
      ...(this.options.clock === undefined ? {} : { clock: this.options.clock }),
      ...(this.completions === undefined ? {} : { sources: [this.completions] }),
    });
    // The endpoint's completions are scheduled by this term's rounds; a completion gone from its
    // caller has its sequence stopped by this term's controller.
    this.completions?.setCanceller((key) => {
      requestController.cancel(key);
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
      ...(this.options.clock === undefined ? {} : { clock: this.options.clock }),
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
    // A placed node's models change with its serving LLM pod: its status and the rounds follow.
    const offPods = this.pods.on({
      update: (_old, pod) => {
        const node = pod.metadata?.labels?.[LLM_POD.edgeNodeLabel];
        if (node === undefined) return;
        nodeController.enqueue(node);
        requestController.trigger();
      },
      delete: (pod) => {
        const node = pod.metadata?.labels?.[LLM_POD.edgeNodeLabel];
        if (node !== undefined) nodeController.enqueue(node);
      },
    });
    const llm = this.options.llmPods;
    const models =
      llm === undefined
        ? undefined
        : new ModelController({
            kubeConfig,
            models: this.models,
            nodes: this.rawNodes,
            requests: this.requests,
            pods: this.pods,
            template: llm.template,
            namespace: llm.namespace,
            status,
            events,
            metrics: this.metrics,
            log,
            clock: this.options.clock ?? systemClock,
            ...(llm.maxCacheBytes === undefined ? {} : { maxCacheBytes: llm.maxCacheBytes }),
            ...(llm.contextTokens === undefined ? {} : { contextTokens: llm.contextTokens }),
            ...(llm.maxSequences === undefined ? {} : { maxSequences: llm.maxSequences }),
            ...(llm.insecureRegistries === undefined
              ? {}
              : { insecureRegistries: llm.insecureRegistries }),
            ...(llm.placementIntervalSeconds === undefined
              ? {}
              : { intervalSeconds: llm.placementIntervalSeconds }),
          });
    const fromNodes = this.options.edgeNodesFromNodes;
    const nodeSync =
      fromNodes === undefined || this.kubeNodes === undefined
        ? undefined
        : new NodeSync({
            kubeConfig,
            nodes: this.kubeNodes,
            edgeNodes: this.rawNodes,
            agent: fromNodes.agent,
            events,
            metrics: this.metrics,
            log,
            clock: this.options.clock ?? systemClock,
          });
    try {
      await Promise.all([
        nodeController.run(term),
        requestController.run(term),
        ...(models === undefined ? [] : [models.run(term)]),
        ...(nodeSync === undefined ? [] : [nodeSync.run(term)]),
      ]);
    } finally {
      offPods();
      offNodes();
      this.completions?.setCanceller(undefined);
      this.completions?.failAll(
        unavailable('leader_changed', 'this operator replica stopped leading; retry the request'),
      );
    }
    log.info('controllers stopped');
  }

  /** Stops controllers (releasing the Lease), informers and the HTTP server. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.running?.catch(() => undefined);
    await Promise.all([
      this.rawNodes.stop(),
      this.models.stop(),
      this.requests.stop(),
      this.pods.stop(),
      this.kubeNodes?.stop(),
    ]);
    this.agents.close();
    this.apiKeys?.stop();
    await this.openai?.stop();
    await this.server?.close();
  }
}
