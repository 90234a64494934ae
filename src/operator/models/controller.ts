// The model controller: one level-triggered pass (a single work-queue key, re-run every
// `intervalSeconds` and on any Model, EdgeNode, LLM pod or request event) that reads variant
// shapes, decides the placement (src/core/placement), makes the LLM pods match it and writes each
// Model's status. Pods roll without losing a request: the pod for a node's new variant set starts
// next to the old one, and the old one is deleted only once the new one is Ready (its agent
// drains on SIGTERM: the running batch finishes); a pod that is not Ready serves nothing and goes
// at once.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { placeModels } from '../../core/placement/place.js';
import type { PlacementDecision } from '../../core/placement/types.js';
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import type { Model } from '../../gen/crds/model.js';
import { apiStatusCode } from '../kube/api-errors.js';
import type { Clock } from '../kube/clock.js';
import { Controller } from '../kube/controller.js';
import type { Informer } from '../kube/informer.js';
import {
  EVENT_TYPE,
  FIELD_MANAGER,
  type EventRecorder,
  type StatusWriter,
} from '../kube/writes.js';
import type { OperatorMetrics } from '../metrics.js';
import { demandClasses } from './demand.js';
import {
  agentModelName,
  buildLlmPod,
  fetchSecondsOf,
  fetchFailuresOf,
  isPodReady,
  llmPodName,
  llmPodsOf,
  type LlmPodInput,
  type PodVariant,
} from './llm-pods.js';
import { modelStatus, type ShapeResult } from './model-status.js';
import { isPlacedNode, placementProblem, withReadShapes } from './placement-problem.js';
import { ShapeProbe } from './shape-probe.js';
import { ShapeReader } from './shape-reader.js';

export const MODEL_CONTROLLER_DEFAULTS = {
  intervalSeconds: 10,
  /** Bound of each node's model cache (the LLM pods' `--max-cache-bytes`). */
  maxCacheBytes: 20 * 1024 ** 3,
  /** Context of each variant in an LLM pod's agent, shared by maxSequences sequences. */
  contextTokens: 4096,
  maxSequences: 8,
  /** A failed LLM pod is made anew no sooner than this after it was created. */
  failedPodRetrySeconds: 30,
} as const;

const KEY = 'placement';

export interface ModelControllerOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly models: Informer<Model>;
  readonly nodes: Informer<EdgeNode>;
  readonly requests: Informer<InferenceRequest>;
  readonly pods: Informer<k8s.V1Pod>;
  /** The LLM pod template (a Pod with an `agent` container and a `model-cache` volume). */
  readonly template: k8s.V1Pod;
  /** Namespace of the LLM pods. */
  readonly namespace: string;
  readonly maxCacheBytes?: number;
  readonly contextTokens?: number;
  readonly maxSequences?: number;
  readonly insecureRegistries?: readonly string[];
  readonly intervalSeconds?: number;
  readonly status: StatusWriter;
  readonly events: EventRecorder;
  readonly metrics: OperatorMetrics;
  readonly log: Logger;
  readonly clock: Clock;
}

export class ModelController {
  private readonly controller: Controller;
  private readonly core: k8s.CoreV1Api;
  private readonly shapes: ShapeReader;
  private readonly probe: ShapeProbe;
  private decision: PlacementDecision | undefined;
  /** Pods whose fetch times are in the histogram already. */
  private readonly measured = new Set<string>();

  constructor(private readonly options: ModelControllerOptions) {
    this.core = options.kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.probe = new ShapeProbe({
      kubeConfig: options.kubeConfig,
      template: options.template,
      namespace: options.namespace,
    });
    this.controller = new Controller({
      name: 'model',
      workers: 1,
      log: options.log,
      metrics: options.metrics,
      reconcile: () => this.sync(),
      clock: options.clock,
    });
    this.shapes = new ShapeReader({
      insecureRegistries: options.insecureRegistries ?? [],
      log: options.log,
      nowMs: () => options.clock.now(),
      onRead: () => {
        this.trigger();
      },
      readPvc: (source, sha256) => this.probe.read(source, sha256),
    });
  }

  trigger(): void {
    this.controller.enqueue(KEY);
  }

  /** The last placement decided (tests, logs). */
  get lastDecision(): PlacementDecision | undefined {
    return this.decision;
  }

  run(signal: AbortSignal): Promise<void> {
    const offs = [this.options.models, this.options.nodes, this.options.pods].map((informer) =>
      (informer as Informer<k8s.KubernetesObject>).on({
        add: () => {
          this.trigger();
        },
        update: () => {
          this.trigger();
        },
        delete: () => {
          this.trigger();
        },
      }),
    );
    this.trigger();
    return this.controller.run(signal).finally(() => {
      for (const off of offs) off();
    });
  }

  private contextTokens(): number {
    return this.options.contextTokens ?? MODEL_CONTROLLER_DEFAULTS.contextTokens;
  }

  private maxSequences(): number {
    return this.options.maxSequences ?? MODEL_CONTROLLER_DEFAULTS.maxSequences;
  }

  private async sync(): Promise<{ requeueAfterMs: number }> {
    const { metrics, clock } = this.options;
    const models = this.options.models.list();
    const nodes = this.options.nodes.list();
    const pods = this.options.pods
      .list()
      .filter((p) => p.metadata?.namespace === this.options.namespace);
    // Each variant's shape as the header reads have it (a read starts where none is known yet).
    const shapes = new Map(
      models.map((m) => [
        m.metadata.name ?? '',
        new Map(
          m.spec.variants.map((v) => [v.quantization, this.shapes.shape(v.source, v.sha256)]),
        ),
      ]),
    );
    const known = models.map((m) => withReadShapes(m, shapes.get(m.metadata.name ?? '')));

    const demand = demandClasses(
      this.options.requests.list(),
      models.map((m) => m.metadata.name ?? ''),
      clock.now(),
    );
    const problem = placementProblem({
      nodes,
      models: known,
      demand,
      pods,
      sequenceTokens: Math.floor(this.contextTokens() / this.maxSequences()),
    });
    const end = metrics.placementDurationSeconds.startTimer();
    const decision = placeModels(problem);
    end();
    this.decision = decision;
    metrics.placementServedFraction.set(decision.servedFraction);
    metrics.placementChangesTotal.inc({ change: 'added' }, decision.added.length);
    metrics.placementChangesTotal.inc({ change: 'removed' }, decision.removed.length);
    metrics.placementVariants.reset();
    for (const p of decision.placement)
      metrics.placementVariants.inc({ model: p.model, quantization: p.quantization });
    if (decision.added.length + decision.removed.length > 0) {
      this.options.log.info(
        {
          added: decision.added,
          removed: decision.removed,
          servedFraction: decision.servedFraction,
          optimal: decision.optimal,
        },
        'placement changed',
      );
    }

    for (const node of nodes.filter(isPlacedNode))
      await this.reconcileNode(node, known, decision, pods);
    this.observePods(pods);
    for (const model of known)
      await this.writeStatus(
        model,
        shapes.get(model.metadata.name ?? '') ?? new Map(),
        decision,
        pods,
      );
    return {
      requeueAfterMs:
        (this.options.intervalSeconds ?? MODEL_CONTROLLER_DEFAULTS.intervalSeconds) * 1000,
    };
  }

  private podInput(node: EdgeNode, variants: PodVariant[]): LlmPodInput {
    return {
      template: this.options.template,
      namespace: this.options.namespace,
      edgeNode: { name: node.metadata.name ?? '', uid: node.metadata.uid ?? '' },
      kubeNode: node.spec.agent.nodeName ?? '',
      variants,
      maxCacheBytes: this.options.maxCacheBytes ?? MODEL_CONTROLLER_DEFAULTS.maxCacheBytes,
      insecureRegistries: this.options.insecureRegistries ?? [],
      contextTokens: this.contextTokens(),
      maxSequences: this.maxSequences(),
    };
  }

  private async reconcileNode(
    node: EdgeNode,
    models: readonly Model[],
    decision: PlacementDecision,
    pods: readonly k8s.V1Pod[],
  ): Promise<void> {
    const name = node.metadata.name ?? '';
    const variants: PodVariant[] = decision.placement
      .filter((p) => p.node === name)
      .flatMap((p) => {
        const spec = models
          .find((m) => m.metadata.name === p.model)
          ?.spec.variants.find((v) => v.quantization === p.quantization);
        return spec === undefined
          ? []
          : [
              {
                model: p.model,
                quantization: p.quantization,
                agentModel: agentModelName(p.model, p.quantization),
                source: spec.source,
                sha256: spec.sha256,
              },
            ];
      });
    const mine = llmPodsOf(name, pods);
    const desiredName =
      variants.length === 0 ? undefined : llmPodName(this.podInput(node, variants));
    const desired = mine.find((p) => p.metadata?.name === desiredName);
    if (desiredName !== undefined && desired === undefined) {
      const pod = buildLlmPod(this.podInput(node, variants));
      try {
        await this.core.createNamespacedPod({
          namespace: this.options.namespace,
          body: pod,
          fieldManager: FIELD_MANAGER,
        });
        this.options.log.info(
          { edgeNode: name, pod: desiredName, variants: variants.map((v) => v.agentModel) },
          'LLM pod created',
        );
        this.options.events.record(
          node,
          EVENT_TYPE.normal,
          'LlmPodCreated',
          `pod ${this.options.namespace}/${desiredName} serves ${variants.map((v) => `${v.model}/${v.quantization}`).join(', ')}`,
        );
      } catch (error) {
        if (apiStatusCode(error) !== 409) throw error;
      }
    }
    // A pod that ended (the kubelet rejected it, or it failed) never runs again: delete it so the
    // next pass makes it anew, at most once per `failedPodRetrySeconds`.
    if (desired?.status?.phase === 'Failed' || desired?.status?.phase === 'Succeeded') {
      const age =
        this.options.clock.now() - new Date(desired.metadata?.creationTimestamp ?? 0).getTime();
      if (age > MODEL_CONTROLLER_DEFAULTS.failedPodRetrySeconds * 1000)
        await this.deletePod(desired, name);
    }
    const desiredReady = desired !== undefined && isPodReady(desired);
    for (const pod of mine) {
      if (pod.metadata?.name === desiredName) continue;
      // A Ready pod keeps serving until its successor is Ready; one that is not Ready serves nothing.
      if (isPodReady(pod) && desiredName !== undefined && !desiredReady) continue;
      await this.deletePod(pod, name);
    }
  }

  private async deletePod(pod: k8s.V1Pod, edgeNode: string): Promise<void> {
    const name = pod.metadata?.name ?? '';
    try {
      await this.core.deleteNamespacedPod({ name, namespace: this.options.namespace });
      this.options.log.info({ edgeNode, pod: name }, 'LLM pod deleted (placement moved)');
    } catch (error) {
      if (apiStatusCode(error) !== 404) throw error;
    }
  }

  private observePods(pods: readonly k8s.V1Pod[]): void {
    const { metrics } = this.options;
    let ready = 0;
    let failing = 0;
    let starting = 0;
    for (const pod of pods) {
      if (isPodReady(pod)) ready += 1;
      else if (fetchFailuresOf(pod).length > 0) failing += 1;
      else starting += 1;
      const uid = pod.metadata?.uid ?? '';
      for (const f of fetchSecondsOf(pod)) {
        const key = `${uid}/${f.sha256}`;
        if (this.measured.has(key)) continue;
        this.measured.add(key);
        metrics.modelFetchSeconds.observe(
          { result: f.downloaded ? 'downloaded' : 'cached' },
          f.seconds,
        );
      }
    }
    metrics.llmPods.set({ state: 'ready' }, ready);
    metrics.llmPods.set({ state: 'starting' }, starting);
    metrics.llmPods.set({ state: 'failing' }, failing);
  }

  private async writeStatus(
    model: Model,
    shapes: ReadonlyMap<string, ShapeResult>,
    decision: PlacementDecision,
    pods: readonly k8s.V1Pod[],
  ): Promise<void> {
    const original = this.options.models.get(model.metadata.name ?? '');
    const status = modelStatus({
      model: original ?? model,
      shapes,
      decision,
      pods,
      now: new Date(this.options.clock.now()),
    });
    if (JSON.stringify(status) === JSON.stringify(original?.status ?? {})) return;
    try {
      await this.options.status.patchModel(model.metadata.name ?? '', status);
    } catch (error) {
      if (apiStatusCode(error) !== 404) throw error;
      return;
    }
    // An Event for each condition that changed its status or reason (kubectl describe model).
    for (const next of status.conditions ?? []) {
      const before = original?.status?.conditions?.find((c) => c.type === next.type);
      if (before?.status === next.status && before.reason === next.reason) continue;
      const type = next.status === 'False' ? EVENT_TYPE.warning : EVENT_TYPE.normal;
      this.options.events.record(
        original ?? model,
        type,
        next.reason,
        `${next.type}: ${next.message}`,
      );
    }
  }
}
