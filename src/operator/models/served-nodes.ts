// EdgeNodes as scheduling sees them: an EdgeNode whose models placement decides (spec.models
// empty) serves what its serving LLM pod serves, each variant with the shape its Model's status
// holds (read from the GGUF header). The view is an Informer, so the request and EdgeNode
// controllers read placed nodes exactly as they read nodes that list their models by hand.
import type * as k8s from '@kubernetes/client-node';
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import type { Model } from '../../gen/crds/model.js';
import type { Informer, InformerHandlers } from '../kube/informer.js';
import { podVariantsOf, servingPod } from './llm-pods.js';
import { isPlacedNode, shapeOf, variantFacts } from './placement-problem.js';

type NodeModel = NonNullable<EdgeNode['spec']['models']>[number];

/** `node` with spec.models from its serving LLM pod, when placement decides its models. */
export function withServedModels(
  node: EdgeNode,
  pods: readonly k8s.V1Pod[],
  models: Informer<Model>,
): EdgeNode {
  if (!isPlacedNode(node)) return node;
  const pod = servingPod(node.metadata.name ?? '', pods);
  const served = pod === undefined ? [] : podVariantsOf(pod);
  const list = served.flatMap((v): NodeModel[] => {
    const model = models.get(v.model);
    const shape = model === undefined ? undefined : shapeOf(model, v.quantization);
    if (model === undefined || shape === undefined) return [];
    const spec = model.spec.variants.find((s) => s.quantization === v.quantization);
    return [
      {
        name: v.model,
        quantization: v.quantization,
        agentModel: v.agentModel,
        ...variantFacts(model, v.quantization, shape),
        ...(spec?.kvBits === undefined ? {} : { kvBits: spec.kvBits }),
      },
    ];
  });
  return { ...node, spec: { ...node.spec, models: list } };
}

export class ServedEdgeNodes implements Informer<EdgeNode> {
  readonly resource: string;

  constructor(
    private readonly nodes: Informer<EdgeNode>,
    private readonly pods: Informer<k8s.V1Pod>,
    private readonly models: Informer<Model>,
  ) {
    this.resource = nodes.resource;
  }

  get synced(): Promise<void> {
    return Promise.all([this.nodes.synced, this.pods.synced, this.models.synced]).then(
      () => undefined,
    );
  }

  get hasSynced(): boolean {
    return this.nodes.hasSynced && this.pods.hasSynced && this.models.hasSynced;
  }

  get isFresh(): boolean {
    return this.nodes.isFresh && this.pods.isFresh && this.models.isFresh;
  }

  async whenFresh(): Promise<void> {
    await Promise.all([this.nodes.whenFresh(), this.pods.whenFresh(), this.models.whenFresh()]);
  }

  on(handlers: InformerHandlers<EdgeNode>): () => void {
    return this.nodes.on(handlers);
  }

  get(key: string): EdgeNode | undefined {
    const node = this.nodes.get(key);
    return node === undefined ? undefined : withServedModels(node, this.pods.list(), this.models);
  }

  list(namespace?: string): readonly EdgeNode[] {
    const pods = this.pods.list();
    return this.nodes.list(namespace).map((n) => withServedModels(n, pods, this.models));
  }

  start(): void {
    // The underlying informers are started by their owner.
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}
