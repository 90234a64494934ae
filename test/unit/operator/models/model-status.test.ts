// A Model's status from shapes, the placement and the LLM pods (src/operator/models/model-status.ts).
import { describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import type { PlacementDecision } from '../../../../src/core/placement/types.js';
import type { Model } from '../../../../src/gen/crds/model.js';
import { agentModelName, buildLlmPod } from '../../../../src/operator/models/llm-pods.js';
import { modelStatus, type ShapeResult } from '../../../../src/operator/models/model-status.js';

const NOW = new Date('2026-12-04T10:00:00Z');
const SHA = 'c'.repeat(64);
const model: Model = {
  apiVersion: 'edgellm.io/v1alpha1',
  kind: 'Model',
  metadata: { name: 'm', generation: 2 },
  spec: {
    variants: [
      { quantization: 'Q4_1', source: 'http://h/q4.gguf', sha256: SHA },
      { quantization: 'Q8_0', source: 'http://h/q8.gguf', sha256: SHA },
    ],
  },
};
const shape = {
  architecture: 'llama',
  layers: 30,
  hiddenSize: 576,
  ffnSize: 1536,
  kvWidth: 192,
  parameters: 134_515_008,
  weightBits: 5.2,
  contextLength: 8192,
  chatTemplate: true,
};
const known: ShapeResult = { state: 'known', shape };
const decision = (placement: PlacementDecision['placement']): PlacementDecision => ({
  placement,
  added: [],
  removed: [],
  servedFraction: 1,
  bestServedFraction: 1,
  demandFlopsPerSecond: 1,
  kept: false,
  optimal: true,
  upperBoundServedFraction: 1,
  evaluations: 1,
  unsatisfiedPins: [],
  unservable: [],
});
function pod(quantization: string, status: k8s.V1PodStatus): k8s.V1Pod {
  const built = buildLlmPod({
    template: {
      spec: { containers: [{ name: 'agent' }], volumes: [{ name: 'model-cache', emptyDir: {} }] },
    },
    namespace: 'ns',
    edgeNode: { name: 'edge-a', uid: 'u' },
    kubeNode: 'n',
    variants: [
      {
        model: 'm',
        quantization,
        agentModel: agentModelName('m', quantization),
        source: `http://h/${quantization === 'Q4_1' ? 'q4' : 'q8'}.gguf`,
        sha256: SHA,
      },
    ],
    maxCacheBytes: 1,
    insecureRegistries: [],
    contextTokens: 4096,
    maxSequences: 8,
  });
  return Object.assign({}, built, { status });
}
const condition = (s: ReturnType<typeof modelStatus>, type: string) =>
  s.conditions?.find((c) => c.type === type);

describe('modelStatus', () => {
  it('says a header is being read, then which one failed and why', () => {
    const reading = modelStatus({
      model,
      shapes: new Map<string, ShapeResult>([
        ['Q4_1', known],
        ['Q8_0', { state: 'reading' }],
      ]),
      decision: decision([]),
      pods: [],
      now: NOW,
    });
    expect(condition(reading, 'ShapeKnown')).toMatchObject({
      status: 'Unknown',
      reason: 'ReadingHeader',
      observedGeneration: 2,
    });
    const failed = modelStatus({
      model,
      shapes: new Map<string, ShapeResult>([
        ['Q4_1', known],
        [
          'Q8_0',
          {
            state: 'failed',
            reason: 'SourceUnreachable',
            message: 'GET http://h/q8.gguf: the server answered 404 Not Found',
          },
        ],
      ]),
      decision: decision([]),
      pods: [],
      now: NOW,
    });
    expect(condition(failed, 'ShapeKnown')).toMatchObject({
      status: 'False',
      reason: 'SourceUnreachable',
    });
    expect(failed.variants?.[1]?.message).toMatch(/^SourceUnreachable: GET http:\/\/h\/q8\.gguf/);
    expect(failed.variants?.[0]?.shape).toEqual(shape);
  });

  it('is Ready once every placed variant has a Ready pod, and summarises where it serves', () => {
    const placed = decision([{ node: 'edge-a', model: 'm', quantization: 'Q4_1' }]);
    const shapes = new Map([
      ['Q4_1', known],
      ['Q8_0', known],
    ]);
    const starting = modelStatus({
      model,
      shapes,
      decision: placed,
      pods: [pod('Q4_1', { phase: 'Pending' })],
      now: NOW,
    });
    expect(condition(starting, 'Placed')).toMatchObject({
      status: 'True',
      message: 'Q4_1 on edge-a',
    });
    expect(condition(starting, 'Ready')).toMatchObject({ status: 'False', reason: 'PodsStarting' });
    expect(starting.summary).toEqual({ variants: 'Q4_1,Q8_0', servedOn: '-', readyPods: 0 });
    const ready = modelStatus({
      model,
      shapes,
      decision: placed,
      pods: [pod('Q4_1', { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] })],
      now: NOW,
    });
    expect(condition(ready, 'Ready')).toMatchObject({ status: 'True', reason: 'Served' });
    expect(ready.variants?.[0]?.edgeNodes).toEqual(['edge-a']);
    expect(ready.summary).toEqual({ variants: 'Q4_1,Q8_0', servedOn: 'Q4_1@edge-a', readyPods: 1 });
  });

  it('carries a failed fetch into the Ready condition', () => {
    const status = modelStatus({
      model,
      shapes: new Map([
        ['Q4_1', known],
        ['Q8_0', known],
      ]),
      decision: decision([{ node: 'edge-a', model: 'm', quantization: 'Q8_0' }]),
      pods: [
        pod('Q8_0', {
          phase: 'Pending',
          initContainerStatuses: [
            {
              name: 'fetch-0',
              ready: false,
              restartCount: 1,
              image: 'x',
              imageID: 'x',
              lastState: {
                terminated: {
                  exitCode: 1,
                  message:
                    '{"ok":false,"reason":"ChecksumMismatch","message":"q8.gguf has sha256 d…"}',
                },
              },
            },
          ],
        }),
      ],
      now: NOW,
    });
    expect(condition(status, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ChecksumMismatch',
      message: 'q8.gguf has sha256 d…',
    });
    expect(status.variants?.[1]?.message).toBe('ChecksumMismatch: q8.gguf has sha256 d…');
  });
});
