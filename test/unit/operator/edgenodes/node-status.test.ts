// An EdgeNode's status after a heartbeat, as data: what the agent reported per spec model, the
// conditions (Ready when some model is served, Degraded when one is missing, both False with why
// when the agent does not answer), each with the generation it describes, and the patch.
import { describe, expect, it } from '@jest/globals';
import type { Condition } from '../../../../src/operator/api/conditions.js';
import {
  agentReport,
  heartbeatPatch,
  nodeConditions,
  NODE_REASON,
  type Heartbeat,
} from '../../../../src/operator/edgenodes/node-status.js';
import type { EdgeNode } from '../../../../src/gen/crds/edgenode.js';
import type { GetInfoResponse, ModelVariant } from '../../../../src/gen/edgellm/agent/v1/agent.js';
import { localNodeSpec } from '../../../support/edge-node.js';
import { LLAMA_7B_SHAPE } from '../../../support/models.js';

const NOW = new Date('2026-01-02T03:04:05.000Z');
const LATER = new Date('2026-01-02T03:04:10.000Z');

const node: EdgeNode = {
  apiVersion: 'edgellm.io/v1alpha1',
  kind: 'EdgeNode',
  metadata: { name: 'edge-a', generation: 3 },
  spec: localNodeSpec('127.0.0.1:50051', [
    {
      name: 'llama',
      quantization: 'Q4_0',
      agentModel: 'llama-q4',
      weightBits: 4,
      perplexity: 6.1,
      ...LLAMA_7B_SHAPE,
    },
    {
      name: 'llama',
      quantization: 'Q8_0',
      agentModel: 'llama-q8',
      weightBits: 8,
      perplexity: 5.7,
      ...LLAMA_7B_SHAPE,
    },
  ]),
};

function variant(name: string, loaded: boolean): ModelVariant {
  return {
    name,
    quantization: 'Q4_0',
    path: `/models/${name}.gguf`,
    loaded,
    contextTokens: 4096,
    maxSequences: 8,
    fileBytes: 0,
    layers: 32,
    hiddenSize: 4096,
    parameters: 6.74e9,
    loadSeconds: 1,
    sequenceContextTokens: 512,
  };
}

function info(models: ModelVariant[]): GetInfoResponse {
  return {
    agentVersion: '1.2.3',
    capabilities: { partialModelExecution: false, accelerator: 'cpu', threads: 4 },
    models,
    memoryTotalBytes: 8e9,
    memoryFreeBytes: 4e9,
    queueLength: 2,
  };
}

function answered(models: ModelVariant[]): Heartbeat {
  return {
    answered: true,
    address: '127.0.0.1:50051',
    report: agentReport(node, info(models), []),
  };
}

const byType = (conditions: readonly Condition[]): Record<string, Condition> =>
  Object.fromEntries(conditions.map((c) => [c.type, c]));

describe('agentReport', () => {
  it('reports each spec model by its agent model, with the limits of the loaded ones', () => {
    const report = agentReport(node, info([variant('llama-q4', true)]), []);
    expect(report.models).toEqual([
      {
        name: 'llama',
        quantization: 'Q4_0',
        agentModel: 'llama-q4',
        loaded: true,
        contextTokens: 4096,
        maxSequences: 8,
        sequenceContextTokens: 512,
      },
      { name: 'llama', quantization: 'Q8_0', agentModel: 'llama-q8', loaded: false },
    ]);
    expect(report).toMatchObject({
      agent: { endpoint: '127.0.0.1:50051', version: '1.2.3', accelerator: 'cpu', threads: 4 },
      capacity: { memoryTotalBytes: 8e9, memoryFreeBytes: 4e9 },
      loadedModels: 1,
      profiles: [],
      queueLength: 2,
    });
  });
});

describe('nodeConditions', () => {
  it('all models served: connected, Ready, not Degraded, each at the node’s generation', () => {
    const c = byType(
      nodeConditions([], answered([variant('llama-q4', true), variant('llama-q8', true)]), NOW, 3),
    );
    expect(c['AgentConnected']).toMatchObject({ status: 'True', reason: NODE_REASON.connected });
    expect(c['Ready']).toMatchObject({
      status: 'True',
      reason: NODE_REASON.modelsServed,
      message: 'serves llama-q4, llama-q8',
    });
    expect(c['Degraded']).toMatchObject({ status: 'False', reason: NODE_REASON.allServed });
    for (const condition of Object.values(c)) {
      expect(condition.observedGeneration).toBe(3);
      expect(condition.lastTransitionTime).toBe(NOW.toISOString());
    }
  });

  it('one model missing: Ready and Degraded, naming the missing model', () => {
    const c = byType(nodeConditions([], answered([variant('llama-q4', true)]), NOW, 3));
    expect(c['Ready']).toMatchObject({ status: 'True', reason: NODE_REASON.modelsServed });
    expect(c['Degraded']).toMatchObject({ status: 'True', reason: NODE_REASON.modelsMissing });
    expect(c['Degraded']?.message).toContain('llama-q8');
  });

  it('no model served: not Ready, saying to check the agent’s config', () => {
    const c = byType(nodeConditions([], answered([]), NOW, 3));
    expect(c['Ready']).toMatchObject({ status: 'False', reason: NODE_REASON.noModelServed });
    expect(c['Ready']?.message).toContain("check the agent's config");
  });

  it('agent unreachable: AgentConnected and Ready False with why; Degraded kept; times move only on change', () => {
    const before = nodeConditions([], answered([variant('llama-q4', true)]), NOW, 3);
    const after = byType(
      nodeConditions(before, { answered: false, message: 'connect ECONNREFUSED' }, LATER, 4),
    );
    expect(after['AgentConnected']).toMatchObject({
      status: 'False',
      reason: NODE_REASON.unreachable,
      message: 'connect ECONNREFUSED',
      lastTransitionTime: LATER.toISOString(),
      observedGeneration: 4,
    });
    expect(after['Ready']).toMatchObject({
      status: 'False',
      reason: NODE_REASON.unreachable,
      message: 'the agent does not answer: connect ECONNREFUSED',
    });
    expect(after['Degraded']).toEqual(byType(before)['Degraded']);
    const again = byType(nodeConditions(Object.values(after), answered([]), LATER, 4));
    expect(again['Ready']?.lastTransitionTime).toBe(LATER.toISOString());
    const still = byType(
      nodeConditions(
        nodeConditions([], answered([variant('llama-q4', true)]), NOW, 3),
        answered([variant('llama-q4', true)]),
        LATER,
        3,
      ),
    );
    expect(still['Ready']?.lastTransitionTime).toBe(NOW.toISOString());
  });
});

describe('heartbeatPatch', () => {
  it('carries the report, the heartbeat time, the batch in flight and the generation', () => {
    const heartbeat = answered([variant('llama-q4', true)]);
    const patch = heartbeatPatch({
      heartbeat,
      conditions: [],
      currentBatch: { batchId: 'edge-a-1', requests: 3, sinceMs: NOW.getTime() },
      now: LATER,
      generation: 3,
    });
    expect(patch).toMatchObject({
      queueLength: 2,
      loadedModels: 1,
      lastHeartbeatTime: LATER.toISOString(),
      currentBatch: { id: 'edge-a-1', requests: 3, startTime: NOW.toISOString() },
      observedGeneration: 3,
    });
  });

  it('clears the batch when none is in flight and keeps the last report when the agent is away', () => {
    const patch = heartbeatPatch({
      heartbeat: { answered: false, message: 'timeout' },
      conditions: [],
      currentBatch: undefined,
      now: LATER,
      generation: undefined,
    });
    expect(patch).toEqual({
      conditions: [],
      lastHeartbeatTime: LATER.toISOString(),
      currentBatch: null,
    });
  });
});
