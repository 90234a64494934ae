// The placement problem of this moment, from the cluster's objects: the EdgeNodes whose models
// placement decides (spec.models empty, found by spec.agent.nodeName), every Model variant whose
// shape is known (status.variants[].shape, read from the GGUF header), the demand, the Models'
// pins and what the newest LLM pod of each node serves now. Pure.
import type * as k8s from '@kubernetes/client-node';
import { DEFAULT_KV_BITS, DEFAULT_UTILIZATION, type ModelVariant } from '../../core/model/types.js';
import type { DemandClass, PlacementNode, PlacementProblem } from '../../core/placement/types.js';
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import type { Model } from '../../gen/crds/model.js';
import { llmPodsOf, podVariantsOf } from './llm-pods.js';
import type { ShapeResult } from './model-status.js';

/** Whether placement decides this EdgeNode's models: it lists none itself and names its node. */
export function isPlacedNode(node: EdgeNode): boolean {
  return (node.spec.models ?? []).length === 0 && node.spec.agent.nodeName !== undefined;
}

export type ModelShape = NonNullable<
  NonNullable<NonNullable<Model['status']>['variants']>[number]['shape']
>;

/**
 * `model` with the shapes the header reads found put into its status variants (other status
 * fields kept), so placement sees them before the status write.
 */
export function withReadShapes(
  model: Model,
  shapes: ReadonlyMap<string, ShapeResult> | undefined,
): Model {
  const variants = model.spec.variants.map((v) => {
    const read = shapes?.get(v.quantization);
    return {
      ...model.status?.variants?.find((s) => s.quantization === v.quantization),
      quantization: v.quantization,
      ...(read?.state === 'known' ? { shape: read.shape } : {}),
    };
  });
  return { ...model, status: { ...model.status, variants } };
}

/** The shape status holds for a variant, when it was read. */
export function shapeOf(model: Model, quantization: string): ModelShape | undefined {
  return model.status?.variants?.find((v) => v.quantization === quantization)?.shape;
}

/**
 * The cost model's view of a variant with a known shape: its architecture numbers, and its
 * perplexity from status; unmeasured variants count as equally accurate (every accuracy bound
 * admits them) until the agent reports a perplexity.
 */
export function variantFacts(
  model: Model,
  quantization: string,
  shape: ModelShape,
): Pick<
  ModelVariant,
  'layers' | 'hiddenSize' | 'ffnSize' | 'kvWidth' | 'parameters' | 'weightBits' | 'perplexity'
> {
  const perplexity = model.status?.variants?.find(
    (s) => s.quantization === quantization,
  )?.perplexity;
  return {
    layers: shape.layers,
    hiddenSize: shape.hiddenSize,
    ffnSize: shape.ffnSize,
    kvWidth: shape.kvWidth,
    parameters: shape.parameters,
    weightBits: shape.weightBits,
    perplexity: perplexity ?? 0,
  };
}

/** Every variant of `models` the cost model can see (shape known), as the core's ModelVariant. */
export function modelVariants(models: readonly Model[], sequenceTokens: number): ModelVariant[] {
  return models.flatMap((model) =>
    model.spec.variants.flatMap((v): ModelVariant[] => {
      const shape = shapeOf(model, v.quantization);
      if (shape === undefined) return [];
      return [
        {
          name: model.metadata.name ?? '',
          quantization: v.quantization,
          ...variantFacts(model, v.quantization, shape),
          kvBits: v.kvBits ?? DEFAULT_KV_BITS,
          computeFactor: 1,
          sequenceTokens: Math.min(shape.contextLength, sequenceTokens),
        },
      ];
    }),
  );
}

export function placementProblem(input: {
  readonly nodes: readonly EdgeNode[];
  readonly models: readonly Model[];
  readonly demand: readonly DemandClass[];
  readonly pods: readonly k8s.V1Pod[];
  /** Context tokens each sequence of an LLM pod's agent gets. */
  readonly sequenceTokens: number;
}): PlacementProblem {
  const placed = input.nodes.filter(isPlacedNode);
  const nodes: PlacementNode[] = placed.map((n) => ({
    name: n.metadata.name ?? '',
    resources: {
      memoryBytes: n.spec.resources.memoryBytes,
      computeFlops: n.spec.resources.computeFlops,
      utilization: n.spec.resources.utilization ?? DEFAULT_UTILIZATION,
    },
  }));
  const pins = input.models.flatMap((m) =>
    (m.spec.pins ?? []).map((p) => ({
      node: p.edgeNode,
      model: m.metadata.name ?? '',
      quantization: p.quantization,
    })),
  );
  const current = nodes.flatMap((n) => {
    const newest = llmPodsOf(n.name, input.pods)[0];
    return newest === undefined
      ? []
      : podVariantsOf(newest).map((v) => ({
          node: n.name,
          model: v.model,
          quantization: v.quantization,
        }));
  });
  return {
    nodes,
    variants: modelVariants(input.models, input.sequenceTokens),
    demand: input.demand,
    pins,
    current,
  };
}
