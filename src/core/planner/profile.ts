// The per-unit cost profile of one request: FLOPs of each layer (or of its attention and FFN
// parts), client and server time, server workload, and activation transfer times.
//
// FLOPs are those of spec/scheduling.md §2 (FlexGen's count), per layer, for a prompt of s
// tokens and n generated tokens (n-1 decode steps, the first token comes out of the prefill):
//   attention: prefill  s*8h^2 + 4*s^2*h        decode step i: 8h^2 + 4h*(s+i)
//   FFN:       prefill  s*4h*h_ff               decode step i: 4h*h_ff
// so with D = n-1 the whole request costs, per layer,
//   attention = (s+D)*8h^2 + 4h*(s^2 + D*s + D*(D+1)/2)
//   FFN       = (s+D)*4h*h_ff
// One placement holds for the whole request (the KV cache stays where its layer runs), so each
// unit's cost is this sum. At a location switch between units the hidden state of every token
// crosses the link once: (s+D) * h * bytesPerElement bytes over the request, plus one link
// latency per step. At the two ends only token ids cross by default (in: (s+D) ids, the prompt
// and every fed-back token; out: n sampled ids), since the embedding and LM head run with the first and
// last layer; their FLOPs are not counted (option boundaryTransfer: hidden sends hidden states).
import {
  DEFAULT_SPLIT_OPTIONS,
  GRANULARITY,
  SplitPlanError,
  BOUNDARY_TRANSFER,
  type BoundaryTransfer,
  type Granularity,
  type MeasuredUnitTimes,
  type SplitClient,
  type SplitModel,
  type SplitProfile,
  type SplitRequestShape,
  type SplitServer,
} from './types.js';

/** FLOPs of one layer's attention and FFN parts over the whole request. */
export function layerFlops(
  model: Pick<SplitModel, 'hiddenSize' | 'ffnSize'>,
  request: SplitRequestShape,
): { readonly attentionFlops: number; readonly ffnFlops: number } {
  const h = model.hiddenSize;
  const s = request.promptTokens;
  const d = Math.max(0, request.outputTokens - 1);
  const tokens = s + d;
  const attentionFlops = tokens * 8 * h * h + 4 * h * (s * s + d * s + (d * (d + 1)) / 2);
  const ffnFlops = tokens * 4 * h * model.ffnSize;
  return { attentionFlops, ffnFlops };
}

export interface ProfileInput {
  readonly model: SplitModel;
  readonly request: SplitRequestShape;
  readonly client: SplitClient;
  readonly server: SplitServer;
  readonly granularity?: Granularity;
  readonly measured?: MeasuredUnitTimes;
  readonly boundaryTransfer?: BoundaryTransfer;
}

function checkPositive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new SplitPlanError(`${name} must be a positive finite number, got ${value}`);
  }
}

/** Builds the cost profile from the architecture, the two sides' compute and the link. */
export function buildSplitProfile(input: ProfileInput): SplitProfile {
  const { model, request, client, server } = input;
  const granularity = input.granularity ?? DEFAULT_SPLIT_OPTIONS.granularity;
  checkPositive('model.layers', model.layers);
  checkPositive('model.hiddenSize', model.hiddenSize);
  checkPositive('model.ffnSize', model.ffnSize);
  checkPositive('model.bytesPerElement', model.bytesPerElement);
  checkPositive('request.promptTokens', request.promptTokens);
  checkPositive('request.outputTokens', request.outputTokens);
  checkPositive('client.computeFlops', client.computeFlops);
  checkPositive('client.uplinkBytesPerSecond', client.uplinkBytesPerSecond);
  checkPositive('client.downlinkBytesPerSecond', client.downlinkBytesPerSecond);
  checkPositive('server.computeFlops', server.computeFlops);
  if (!Number.isInteger(model.layers)) throw new SplitPlanError('model.layers must be an integer');

  const { attentionFlops, ffnFlops } = layerFlops(model, request);
  const parts: readonly { readonly name: string; readonly flops: number }[] =
    granularity === GRANULARITY.sublayer
      ? [
          { name: 'attention', flops: attentionFlops },
          { name: 'ffn', flops: ffnFlops },
        ]
      : [{ name: '', flops: attentionFlops + ffnFlops }];
  const units = model.layers * parts.length;

  const labels: string[] = [];
  const layerOfUnit: number[] = [];
  const flops = new Float64Array(units);
  for (let layer = 0; layer < model.layers; layer++) {
    for (let p = 0; p < parts.length; p++) {
      const part = parts[p] ?? { name: '', flops: 0 };
      const u = layer * parts.length + p;
      labels.push(part.name === '' ? `layer ${layer}` : `layer ${layer} ${part.name}`);
      layerOfUnit.push(layer);
      flops[u] = part.flops;
    }
  }

  const clientSeconds = flops.map((f) => f / client.computeFlops);
  const serverSeconds = flops.map((f) => f / server.computeFlops);
  const measured = input.measured;
  for (const [name, values, target] of [
    ['measured.clientSeconds', measured?.clientSeconds, clientSeconds],
    ['measured.serverSeconds', measured?.serverSeconds, serverSeconds],
  ] as const) {
    if (values === undefined) continue;
    if (values.length !== units) {
      throw new SplitPlanError(
        `${name} has ${values.length} entries; the model has ${units} units`,
      );
    }
    values.forEach((v, i) => {
      if (!(Number.isFinite(v) && v >= 0)) {
        throw new SplitPlanError(`${name}[${i}] must be a non-negative number, got ${v}`);
      }
      target[i] = v;
    });
  }

  const decodeSteps = Math.max(0, request.outputTokens - 1);
  const tokensAcross = request.promptTokens + decodeSteps;
  const bytes = tokensAcross * model.hiddenSize * model.bytesPerElement;
  const perTransferLatency =
    (1 + decodeSteps) * (client.linkLatencySeconds ?? DEFAULT_SPLIT_OPTIONS.linkLatencySeconds);
  const activationBytes = new Float64Array(units + 1).fill(bytes);
  if (
    (input.boundaryTransfer ?? DEFAULT_SPLIT_OPTIONS.boundaryTransfer) === BOUNDARY_TRANSFER.tokens
  ) {
    // in: the prompt and every fed-back token; out: one sampled token per step
    activationBytes[0] = tokensAcross * DEFAULT_SPLIT_OPTIONS.tokenIdBytes;
    activationBytes[units] = request.outputTokens * DEFAULT_SPLIT_OPTIONS.tokenIdBytes;
  }
  const uploadSeconds = activationBytes.map(
    (b) => b / client.uplinkBytesPerSecond + perTransferLatency,
  );
  const downloadSeconds = activationBytes.map(
    (b) => b / client.downlinkBytesPerSecond + perTransferLatency,
  );

  return {
    labels,
    layerOfUnit,
    flops,
    clientSeconds,
    serverSeconds,
    serverWorkload: Float64Array.from(flops),
    uploadSeconds,
    downloadSeconds,
    activationBytes,
  };
}

/** A profile from raw per-unit numbers (tests, measured profiles, other cost models). */
export function profileFromArrays(input: {
  readonly clientSeconds: readonly number[];
  readonly serverSeconds: readonly number[];
  readonly serverWorkload: readonly number[];
  readonly uploadSeconds: readonly number[];
  readonly downloadSeconds: readonly number[];
  readonly flops?: readonly number[];
}): SplitProfile {
  const units = input.clientSeconds.length;
  if (
    input.serverSeconds.length !== units ||
    input.serverWorkload.length !== units ||
    input.uploadSeconds.length !== units + 1 ||
    input.downloadSeconds.length !== units + 1
  ) {
    throw new SplitPlanError(
      'profile arrays disagree: per-unit arrays need U entries, transfer arrays U+1',
    );
  }
  return {
    labels: input.clientSeconds.map((_, u) => `unit ${u}`),
    layerOfUnit: input.clientSeconds.map((_, u) => u),
    flops: Float64Array.from(input.flops ?? input.serverWorkload),
    clientSeconds: Float64Array.from(input.clientSeconds),
    serverSeconds: Float64Array.from(input.serverSeconds),
    serverWorkload: Float64Array.from(input.serverWorkload),
    uploadSeconds: Float64Array.from(input.uploadSeconds),
    downloadSeconds: Float64Array.from(input.downloadSeconds),
    activationBytes: new Float64Array(units + 1),
  };
}
