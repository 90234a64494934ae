// Admission control of the requests a round left waiting: the bounded queue (QueueFull) and the
// queue ahead that outlasts a budget (Overloaded), as a pure decision.
import { describe, expect, it } from '@jest/globals';
import { REQUEST_REASON } from '../../../../src/operator/api/constants.js';
import {
  decideAdmission,
  estimatedStartSeconds,
  queueBound,
  type AdmissionNode,
  type AdmissionRequest,
} from '../../../../src/operator/scheduling/admission.js';

const node = (name: string, extra: Partial<AdmissionNode> = {}): AdmissionNode => ({
  name,
  models: new Set(['m']),
  batchCap: 4,
  freeInSeconds: 0,
  batchSeconds: 2,
  ...extra,
});

const waiting = (count: number, budget: number, extra: Partial<AdmissionRequest> = {}) =>
  Array.from({ length: count }, (_, i): AdmissionRequest => ({
    key: `ns/r${i}`,
    model: 'm',
    remainingBudgetSeconds: budget,
    ...extra,
  }));

describe('estimatedStartSeconds', () => {
  it('has no estimate without a node', () => {
    expect(estimatedStartSeconds(0, [])).toBe(undefined);
  });

  it('counts waves of full batches across the nodes after the first batch in flight ends', () => {
    const nodes = [node('a', { freeInSeconds: 1.5 }), node('b', { freeInSeconds: 3 })];
    // 8 per wave (two nodes of 4), 2 s per wave, the first node free in 1.5 s.
    expect(estimatedStartSeconds(0, nodes)).toBeCloseTo(1.5);
    expect(estimatedStartSeconds(7, nodes)).toBeCloseTo(1.5);
    expect(estimatedStartSeconds(8, nodes)).toBeCloseTo(3.5);
    expect(estimatedStartSeconds(20, nodes)).toBeCloseTo(5.5);
  });

  it('takes the fastest node (an estimate that never sheds what could make it)', () => {
    const nodes = [node('a', { batchSeconds: 5 }), node('b', { batchSeconds: 1 })];
    expect(estimatedStartSeconds(16, nodes)).toBeCloseTo(2);
  });

  it('has no estimate while a node has no predicted batch', () => {
    expect(estimatedStartSeconds(100, [node('a'), node('b', { batchSeconds: undefined })])).toBe(
      undefined,
    );
  });
});

describe('decideAdmission', () => {
  it('sheds nothing while the queue drains within every budget and under the bound', () => {
    expect(
      decideAdmission({ waiting: waiting(12, 10), nodes: [node('a')], maxPendingPerNode: 100 }),
    ).toEqual([]);
  });

  it('fails Overloaded the requests whose queue ahead outlasts their budget, oldest kept', () => {
    // One node, 4 per 2 s batch: positions 0-3 start at 0 s, 4-7 at 2 s, 8-11 at 4 s, 12+ at 6 s.
    const shed = decideAdmission({
      waiting: waiting(14, 5),
      nodes: [node('a')],
      maxPendingPerNode: 100,
    });
    expect(shed.map((s) => s.key)).toEqual(['ns/r12', 'ns/r13']);
    expect(shed.every((s) => s.reason === REQUEST_REASON.overloaded)).toBe(true);
    expect(shed[0]?.message).toMatch(
      /12 requests for model "m" wait ahead of it on 1 node\(s\); .* start in 6\.0s at the earliest, after the 5\.0s left/,
    );
  });

  it('does not count shed requests as queue ahead of later ones', () => {
    // Four requests fill the first batch; the next ones start with the second, 2 s from now.
    const shed = decideAdmission({
      waiting: [
        ...waiting(4, 30),
        { key: 'ns/short', model: 'm', remainingBudgetSeconds: 1 },
        { key: 'ns/long', model: 'm', remainingBudgetSeconds: 2.5 },
      ],
      nodes: [node('a')],
      maxPendingPerNode: 100,
    });
    // 'short' (position 4, start 2 s > 1 s) is shed; 'long' is then position 4 too: 2 s < 2.5 s.
    expect(shed.map((s) => s.key)).toEqual(['ns/short']);
  });

  it('bounds the queue per node serving the model: QueueFull beyond it', () => {
    const shed = decideAdmission({
      waiting: waiting(7, 1000),
      nodes: [node('a'), node('b'), node('c', { models: new Set(['other']) })],
      maxPendingPerNode: 3,
    });
    // Two nodes serve m: 6 may wait.
    expect(shed).toEqual([
      {
        key: 'ns/r6',
        reason: REQUEST_REASON.queueFull,
        message: expect.stringContaining('6 requests for model "m" already wait for its 2 node(s)'),
      },
    ]);
  });

  it('counts each model against its own nodes', () => {
    const shed = decideAdmission({
      waiting: [
        ...waiting(2, 1000),
        ...waiting(2, 1000, { model: 'x' }).map((r) => ({ ...r, key: `${r.key}x` })),
      ],
      nodes: [node('a'), node('b', { models: new Set(['x']) })],
      maxPendingPerNode: 1,
    });
    expect(shed.map((s) => s.key)).toEqual(['ns/r1', 'ns/r1x']);
  });

  it('only counts the nodes a request selector allows', () => {
    const shed = decideAdmission({
      waiting: waiting(3, 1000, { allowedNodes: ['a'] }),
      nodes: [node('a'), node('b')],
      maxPendingPerNode: 2,
    });
    expect(shed.map((s) => s.key)).toEqual(['ns/r2']);
  });

  it('bounds a model no Ready node serves as if one did: its queue never grows unbounded', () => {
    expect(queueBound(3, 0)).toBe(3);
    expect(queueBound(3, 2)).toBe(6);
    const shed = decideAdmission({
      waiting: [
        ...waiting(5, 0.1),
        ...waiting(2, 1000, { model: 'x' }).map((r) => ({ ...r, key: `${r.key}x` })),
      ],
      // 'a' serves m but is not offered (not Ready); 'b' serves x.
      nodes: [node('b', { models: new Set(['x']) })],
      maxPendingPerNode: 3,
    });
    // m: the oldest 3 wait (no Overloaded estimate without a node, however short their budget).
    expect(shed).toEqual([
      {
        key: 'ns/r3',
        reason: REQUEST_REASON.queueFull,
        message:
          '3 requests for model "m" already wait while no Ready node serves it, at most 3 (as for one node, --max-pending-per-node); retry later',
      },
      { key: 'ns/r4', reason: REQUEST_REASON.queueFull, message: expect.any(String) },
    ]);
  });

  it('bounds a request whose selector allows only nodes that are not Ready', () => {
    const shed = decideAdmission({
      waiting: waiting(4, 1000, { allowedNodes: ['gone'] }),
      nodes: [node('a')],
      maxPendingPerNode: 2,
    });
    expect(shed.map((s) => [s.key, s.reason])).toEqual([
      ['ns/r2', REQUEST_REASON.queueFull],
      ['ns/r3', REQUEST_REASON.queueFull],
    ]);
  });

  it('leaves alone a request no node serves now and one without a predicted batch time', () => {
    expect(
      decideAdmission({
        waiting: [
          { key: 'ns/nobody', model: 'none', remainingBudgetSeconds: 0.1 },
          ...waiting(50, 0.5),
        ],
        nodes: [node('a', { batchSeconds: undefined })],
        maxPendingPerNode: 100,
      }),
    ).toEqual([]);
  });
});
