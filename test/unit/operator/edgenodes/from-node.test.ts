// EdgeNode specs made from Nodes (src/operator/edgenodes/from-node.ts).
import { describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import {
  edgeNodeSpecFromNode,
  FROM_NODE_DEFAULTS,
  NODE_ANNOTATION,
  parseQuantity,
} from '../../../../src/operator/edgenodes/from-node.js';

const node = (
  annotations: Record<string, string>,
  allocatable: Record<string, string>,
): k8s.V1Node => ({
  metadata: { name: 'jetson-1', annotations },
  status: { allocatable },
});
const tls = { tlsSecretRef: { namespace: 'edgellm', name: 'edgellm-operator-client-tls' } };

describe('parseQuantity', () => {
  it.each([
    ['8Gi', 8 * 2 ** 30],
    ['1500m', 1.5],
    ['2', 2],
    ['2.0e12', 2e12],
    ['20M', 2e7],
  ])('%s is %d', (text, value) => {
    expect(parseQuantity(text)).toBe(value);
  });
  it.each(['', 'lots', '-1', '0', '8GB'])('refuses %p', (text) => {
    expect(parseQuantity(text)).toBeUndefined();
  });
});

describe('edgeNodeSpecFromNode', () => {
  it('takes memory and CPUs from allocatable and defaults the radio', () => {
    expect(edgeNodeSpecFromNode(node({}, { cpu: '4', memory: '7823Mi' }), tls)).toEqual({
      spec: {
        agent: { nodeName: 'jetson-1', ...tls },
        resources: {
          memoryBytes: 7823 * 2 ** 20,
          computeFlops: 4 * FROM_NODE_DEFAULTS.flopsPerCpu,
          uplinkBandwidthHz: FROM_NODE_DEFAULTS.bandwidthHz,
          downlinkBandwidthHz: FROM_NODE_DEFAULTS.bandwidthHz,
        },
      },
    });
  });

  it('lets annotations say what the Node cannot', () => {
    const made = edgeNodeSpecFromNode(
      node(
        {
          [NODE_ANNOTATION.computeFlops]: '2.0e12',
          [NODE_ANNOTATION.memoryBytes]: '4Gi',
          [NODE_ANNOTATION.uplinkBandwidthHz]: '10M',
          [NODE_ANNOTATION.downlinkBandwidthHz]: '40e6',
        },
        { cpu: '4', memory: '8Gi' },
      ),
      { insecure: true },
    );
    expect(made).toEqual({
      spec: {
        agent: { nodeName: 'jetson-1', insecure: true },
        resources: {
          memoryBytes: 4 * 2 ** 30,
          computeFlops: 2e12,
          uplinkBandwidthHz: 1e7,
          downlinkBandwidthHz: 4e7,
        },
      },
    });
  });

  it('names the annotation to fix', () => {
    expect(
      edgeNodeSpecFromNode(
        node({ [NODE_ANNOTATION.computeFlops]: 'fast' }, { cpu: '4', memory: '1Gi' }),
        tls,
      ),
    ).toEqual({
      problem: 'Node jetson-1 annotation edgellm.io/compute-flops=fast is not a positive number',
    });
    expect(edgeNodeSpecFromNode(node({}, {}), tls)).toEqual({
      problem:
        'Node jetson-1 has no edgellm.io/memory-bytes annotation and no value to derive it from',
    });
  });
});
