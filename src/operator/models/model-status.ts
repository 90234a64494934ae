// A Model's status from what the operator knows: each variant's shape (or why it could not be
// read), where placement put it and whether a Ready pod serves it there, and three conditions:
// ShapeKnown, Placed and Ready, with reasons a user can act on (a fetch's ChecksumMismatch or
// SourceUnreachable from the LLM pods' init containers). Pure.
import type * as k8s from '@kubernetes/client-node';
import type { PlacementDecision } from '../../core/placement/types.js';
import type { Model, ModelStatus } from '../../gen/crds/model.js';
import { setCondition, type Condition } from '../api/conditions.js';
import { fetchFailuresOf, isPodReady, LLM_POD, podProblemOf, podVariantsOf } from './llm-pods.js';
import type { ModelShape } from './placement-problem.js';

export const MODEL_CONDITION = {
  shapeKnown: 'ShapeKnown',
  placed: 'Placed',
  ready: 'Ready',
} as const;

export const MODEL_REASON = {
  headerRead: 'HeaderRead',
  reading: 'ReadingHeader',
  placed: 'Placed',
  notPlaced: 'NotPlaced',
  served: 'Served',
  starting: 'PodsStarting',
} as const;

/** A variant's shape as the operator last read it, or why it could not. */
export type ShapeResult =
  | { readonly state: 'known'; readonly shape: ModelShape }
  | { readonly state: 'reading' }
  | { readonly state: 'failed'; readonly reason: string; readonly message: string };

export interface ModelStatusInput {
  readonly model: Model;
  readonly shapes: ReadonlyMap<string, ShapeResult>;
  readonly decision: PlacementDecision | undefined;
  readonly pods: readonly k8s.V1Pod[];
  readonly now: Date;
}

type VariantStatus = NonNullable<ModelStatus['variants']>[number];

export function modelStatus(input: ModelStatusInput): ModelStatus {
  const { model, decision, now } = input;
  const name = model.metadata.name ?? '';
  const generation = model.metadata.generation;
  let conditions = (model.status?.conditions ?? []) as Condition[];
  const failures = new Map<string, { reason: string; message: string }>();
  const readyOn = new Map<string, Set<string>>();
  let readyPods = 0;
  for (const pod of input.pods) {
    for (const f of fetchFailuresOf(pod)) failures.set(f.source, f);
    if (!isPodReady(pod)) continue;
    const node = pod.metadata?.labels?.[LLM_POD.edgeNodeLabel];
    const mine = podVariantsOf(pod).filter((v) => v.model === name);
    if (node === undefined || mine.length === 0) continue;
    readyPods += 1;
    for (const v of mine)
      readyOn.set(v.quantization, (readyOn.get(v.quantization) ?? new Set()).add(node));
  }
  const placedOn = (q: string): string[] =>
    (decision?.placement ?? [])
      .filter((p) => p.model === name && p.quantization === q)
      .map((p) => p.node);

  const variants: VariantStatus[] = model.spec.variants.map((v) => {
    const shape = input.shapes.get(v.quantization);
    const old = model.status?.variants?.find((s) => s.quantization === v.quantization);
    const fetch = failures.get(v.source);
    const message =
      shape?.state === 'failed'
        ? `${shape.reason}: ${shape.message}`
        : fetch
          ? `${fetch.reason}: ${fetch.message}`
          : undefined;
    return {
      quantization: v.quantization,
      ...(shape?.state === 'known' ? { shape: shape.shape } : {}),
      ...(old?.perplexity === undefined ? {} : { perplexity: old.perplexity }),
      edgeNodes: [...(readyOn.get(v.quantization) ?? [])].sort(),
      ...(message === undefined ? {} : { message: message.slice(0, 4000) }),
    };
  });

  const failed = model.spec.variants.flatMap((v) => {
    const s = input.shapes.get(v.quantization);
    return s?.state === 'failed' ? [{ q: v.quantization, ...s }] : [];
  });
  const reading = model.spec.variants.filter(
    (v) => input.shapes.get(v.quantization)?.state !== 'known',
  );
  conditions = setCondition(
    conditions,
    failed.length > 0
      ? {
          type: MODEL_CONDITION.shapeKnown,
          status: 'False',
          reason: failed[0]?.reason ?? 'Unknown',
          message: failed.map((f) => `${f.q}: ${f.message}`).join('; '),
        }
      : reading.length > 0
        ? {
            type: MODEL_CONDITION.shapeKnown,
            status: 'Unknown',
            reason: MODEL_REASON.reading,
            message: `reading the GGUF header of ${reading.map((v) => v.quantization).join(', ')}`,
          }
        : {
            type: MODEL_CONDITION.shapeKnown,
            status: 'True',
            reason: MODEL_REASON.headerRead,
            message: "every variant's shape was read from its GGUF header",
          },
    now,
    generation,
  );

  const placements = model.spec.variants.flatMap((v) =>
    placedOn(v.quantization).map((n) => `${v.quantization} on ${n}`),
  );
  const unservable = (decision?.unservable ?? []).filter((u) => u.classId.startsWith(`${name}/`));
  conditions = setCondition(
    conditions,
    placements.length > 0
      ? {
          type: MODEL_CONDITION.placed,
          status: 'True',
          reason: MODEL_REASON.placed,
          message: placements.join(', '),
        }
      : {
          type: MODEL_CONDITION.placed,
          status: 'False',
          reason: unservable[0]?.reason ?? MODEL_REASON.notPlaced,
          message:
            unservable.length > 0
              ? `no EdgeNode can serve ${unservable.map((u) => u.classId).join(', ')} (${unservable[0]?.reason ?? ''}): see docs/placement.md`
              : 'no variant is placed: no EdgeNode without spec.models has room for one, or no shape is known yet',
        },
    now,
    generation,
  );

  const missing = model.spec.variants.flatMap((v) =>
    placedOn(v.quantization)
      .filter((n) => !readyOn.get(v.quantization)?.has(n))
      .map((n) => ({ variant: v, node: n })),
  );
  // Why a missing variant does not serve: its fetch failed, or its pod cannot run.
  const podProblems = missing.flatMap((m) =>
    input.pods
      .filter(
        (p) =>
          p.metadata?.labels?.[LLM_POD.edgeNodeLabel] === m.node &&
          podVariantsOf(p).some(
            (v) => v.model === name && v.quantization === m.variant.quantization,
          ),
      )
      .flatMap((p) => {
        const problem = podProblemOf(p);
        return problem === undefined ? [] : [problem];
      }),
  );
  const fetchFailure =
    missing.map((m) => failures.get(m.variant.source)).find((f) => f !== undefined) ??
    podProblems[0];
  conditions = setCondition(
    conditions,
    placements.length > 0 && missing.length === 0
      ? {
          type: MODEL_CONDITION.ready,
          status: 'True',
          reason: MODEL_REASON.served,
          message: `served: ${placements.join(', ')}`,
        }
      : {
          type: MODEL_CONDITION.ready,
          status: 'False',
          reason:
            fetchFailure?.reason ??
            (placements.length === 0 ? MODEL_REASON.notPlaced : MODEL_REASON.starting),
          message:
            fetchFailure?.message ??
            (placements.length === 0
              ? 'no variant is placed yet'
              : `waiting for pods: ${missing.map((m) => `${m.variant.quantization} on ${m.node}`).join(', ')}`),
        },
    now,
    generation,
  );
  const servedOn = variants.flatMap((v) =>
    (v.edgeNodes ?? []).map((n) => `${v.quantization}@${n}`),
  );
  return {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    conditions,
    summary: {
      variants: model.spec.variants.map((v) => v.quantization).join(','),
      servedOn: servedOn.length > 0 ? servedOn.join(',') : '-',
      readyPods,
    },
    variants,
  };
}
