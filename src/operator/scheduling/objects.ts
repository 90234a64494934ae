// The parts of EdgeNode and InferenceRequest objects that scheduling reads: structural types
// over the CRD fields (CONTRACT.md, crds/), so that the generated types in src/gen/crds/ are
// assignable to them and the pure snapshot can be unit-tested with plain objects.
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';

export interface ObjectMetaView {
  readonly name?: string | undefined;
  readonly namespace?: string | undefined;
  readonly uid?: string | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly creationTimestamp?: Date | string | undefined;
  readonly resourceVersion?: string | undefined;
  readonly generation?: number | undefined;
}

export interface ConditionView {
  readonly type: string;
  readonly status: string;
  readonly reason?: string | undefined;
  readonly message?: string | undefined;
}

export interface EdgeNodeModelView {
  readonly name: string;
  readonly quantization: string;
  readonly agentModel?: string | undefined;
  readonly layers: number;
  readonly hiddenSize: number;
  readonly ffnSize: number;
  readonly kvWidth: number;
  readonly parameters: number;
  readonly weightBits: number;
  readonly kvBits?: number | undefined;
  readonly computeFactor?: number | undefined;
  readonly perplexity?: number | undefined;
}

export interface CalibrationView {
  readonly prefill: {
    readonly fixedSeconds: number;
    readonly perTokenSeconds: number;
    readonly perTokenSquaredSeconds: number;
  };
  readonly decodeStep: {
    readonly fixedSeconds: number;
    readonly perSequenceSeconds: number;
    readonly perContextTokenSeconds: number;
  };
}

export interface EdgeNodeView {
  readonly metadata?: ObjectMetaView | undefined;
  readonly spec: {
    readonly resources: {
      readonly memoryBytes: number;
      readonly computeFlops: number;
      readonly utilization?: number | undefined;
      readonly memoryBandwidthBytesPerSecond?: number | undefined;
      readonly uplinkBandwidthHz: number;
      readonly downlinkBandwidthHz: number;
    };
    readonly models?: readonly EdgeNodeModelView[] | undefined;
    readonly scheduling?:
      | {
          readonly policy?: string | undefined;
          readonly maxBatchSize?: number | undefined;
          readonly roundIntervalSeconds?: number | undefined;
          readonly solverBudgetMilliseconds?: number | undefined;
          readonly compute?: string | undefined;
          readonly padding?: string | undefined;
          readonly communication?: string | undefined;
          readonly urgencyHorizon?: number | undefined;
        }
      | undefined;
  };
  readonly status?:
    | {
        readonly conditions?: readonly ConditionView[] | undefined;
        readonly agent?: { readonly partialModelExecution?: boolean | undefined } | undefined;
        readonly models?:
          | readonly {
              readonly name?: string | undefined;
              readonly quantization?: string | undefined;
              readonly agentModel?: string | undefined;
              readonly loaded?: boolean | undefined;
              readonly maxSequences?: number | undefined;
              readonly sequenceContextTokens?: number | undefined;
            }[]
          | undefined;
        readonly profiles?:
          | readonly {
              readonly agentModel: string;
              readonly quantization?: string | undefined;
              readonly perplexity?: number | undefined;
              readonly calibration?: CalibrationView | undefined;
            }[]
          | undefined;
      }
    | undefined;
}

export interface KeyRefView {
  readonly name: string;
  readonly key: string;
}

export interface InferenceRequestSpecView {
  readonly promptFormat?: 'text' | 'chat' | undefined;
  readonly model: string;
  readonly prompt?: string | undefined;
  readonly promptFrom?:
    | {
        readonly configMapKeyRef?: KeyRefView | undefined;
        readonly secretKeyRef?: KeyRefView | undefined;
      }
    | undefined;
  readonly promptTokens?: number | undefined;
  readonly maxTokens: number;
  readonly sampling?:
    | {
        readonly temperature?: number | undefined;
        readonly seed?: number | undefined;
        readonly topK?: number | undefined;
        readonly topP?: number | undefined;
      }
    | undefined;
  readonly latencyBudget: string;
  readonly accuracy?: { readonly maxPerplexityIncrease?: number | undefined } | undefined;
  readonly client?:
    | {
        readonly uplinkSpectralEfficiency?: number | undefined;
        readonly downlinkSpectralEfficiency?: number | undefined;
        readonly computeFlops?: number | undefined;
        readonly uplinkBytesPerSecond?: number | undefined;
        readonly downlinkBytesPerSecond?: number | undefined;
      }
    | undefined;
  readonly split?: string | undefined;
  readonly nodeSelector?: Readonly<Record<string, string | undefined>> | undefined;
  readonly ttlSecondsAfterFinished?: number | undefined;
}

export interface InferenceRequestView {
  readonly metadata?: ObjectMetaView | undefined;
  readonly spec: InferenceRequestSpecView;
  readonly status?: { readonly phase?: string | undefined } | undefined;
}

/** `namespace/name`: the work-queue key and the id the core schedules by. */
export function requestKey(object: { readonly metadata?: ObjectMetaView | undefined }): string {
  const name = object.metadata?.name ?? '';
  const namespace = object.metadata?.namespace ?? '';
  return `${namespace}/${name}`;
}

export function timestampMs(value: Date | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

// The generated CRD types must stay assignable to these views (a compile-time check).
type Assignable<T, U extends T> = [T, U];
export type GeneratedTypesFit = [
  Assignable<EdgeNodeView, EdgeNode>,
  Assignable<InferenceRequestView, InferenceRequest>,
];
