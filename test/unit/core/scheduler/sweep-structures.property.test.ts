// The sweep's small data structures (orders, selection, heaps, Fenwick tree) against plain
// sorting, on random values with many ties; the column scan's random access (seek) against
// reaching the same column in order.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CostModel } from '../../../../src/core/model/batch.js';
import { ColumnScan } from '../../../../src/core/scheduler/sweep/columns.js';
import { Fenwick } from '../../../../src/core/scheduler/sweep/fenwick.js';
import { LargestK, SmallestK } from '../../../../src/core/scheduler/sweep/heaps.js';
import {
  kthLargest,
  orderBy,
  orderByDescending,
  ranksOf,
} from '../../../../src/core/scheduler/sweep/order.js';
import { warmUpInstance } from '../../../../src/core/scheduler/warm-up.js';

/** Values drawn from a few, so that ties are common, or from a wide range. */
const valuesArb = fc.oneof(
  fc.array(fc.constantFrom(-1, 0, 0.5, 2, 3), { maxLength: 40 }),
  fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { maxLength: 40 }),
);

const descending = (a: number, b: number): number => b - a;

describe('orders', () => {
  it.each([
    ['orderBy', 1],
    ['orderByDescending', -1],
  ] as const)(
    '%s sorts indices by key (sign %d), ties by index, and ranksOf inverts it',
    (name, sign) => {
      const order = name === 'orderBy' ? orderBy : orderByDescending;
      fc.assert(
        fc.property(valuesArb, (values) => {
          const keys = Float64Array.from(values);
          const key = (i: number): number => sign * (keys[i] ?? 0);
          const expected = values.map((_, i) => i).sort((a, b) => key(a) - key(b) || a - b);
          const found = order(keys);
          expect(Array.from(found)).toEqual(expected);
          const rank = ranksOf(found);
          expected.forEach((i, r) => {
            expect(rank[i]).toBe(r);
          });
        }),
        { numRuns: 500 },
      );
    },
  );

  it('kthLargest is the k-th value of a descending sort', () => {
    fc.assert(
      fc.property(
        valuesArb.filter((v) => v.length > 0),
        fc.nat(),
        (values, seed) => {
          const k = 1 + (seed % values.length);
          const work = new Float64Array(values.length);
          const kth = kthLargest(Float64Array.from(values), values.length, k, work);
          // `+ 0`: 0 and -0 are the same value to an order (fc.double draws both).
          expect(kth + 0).toBe(([...values].sort(descending)[k - 1] ?? NaN) + 0);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('heaps', () => {
  it('LargestK keeps the k largest: their sum, the k-th and the (k-1)-th', () => {
    fc.assert(
      fc.property(valuesArb, fc.integer({ min: 2, max: 12 }), (values, k) => {
        const heap = new LargestK(16);
        heap.reset(k);
        values.forEach((v, i) => {
          heap.offer(v);
          const sorted = values.slice(0, i + 1).sort(descending);
          const kept = sorted.slice(0, k);
          expect(heap.size).toBe(kept.length);
          expect(heap.sum).toBeCloseTo(
            kept.reduce((a, b) => a + b, 0),
            6,
          );
          expect(heap.kth).toBe(sorted.length >= k ? sorted[k - 1] : -Infinity);
          expect(heap.previous).toBe(sorted.length >= k - 1 ? sorted[k - 2] : -Infinity);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('SmallestK keeps the k smallest with their owners', () => {
    fc.assert(
      fc.property(valuesArb, fc.integer({ min: 0, max: 12 }), (values, k) => {
        const heap = new SmallestK(16);
        heap.reset(k);
        values.forEach((v, i) => {
          heap.offer(v, i);
        });
        // As multisets of numbers: -0 and 0 are equal keys, so which of them is kept, and where
        // a stable sort puts it, is not the heap's to say (toEqual tells -0 from 0).
        const sorted = (xs: readonly number[]): number[] =>
          xs.map((v) => v + 0).sort((a, b) => a - b);
        const kept = heap.members().map((i) => values[i] ?? 0);
        expect(sorted(kept)).toEqual(sorted(values).slice(0, k));
      }),
      { numRuns: 300 },
    );
  });
});

describe('Fenwick tree', () => {
  it('answers the k-th present rank and the sum of the first k present', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat({ max: 29 }), { maxLength: 30 }),
        fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { minLength: 30, maxLength: 30 }),
        (ranks, values) => {
          const tree = new Fenwick(30);
          for (const r of ranks) tree.add(r, values[r] ?? 0);
          const present = [...ranks].sort((a, b) => a - b);
          for (let k = 1; k <= present.length + 1; k++) {
            expect(tree.kth(k)).toBe(k <= present.length ? present[k - 1] : -1);
            const sum = present.slice(0, k).reduce((a, r) => a + (values[r] ?? 0), 0);
            expect(tree.sumOfFirst(k)).toBeCloseTo(sum, 6);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('column scan', () => {
  const instance = warmUpInstance(1, 1, 'static', 'requests');
  const cost = new CostModel(instance.node, instance.model, instance.options);
  const candidateArb = fc.record({
    prompt: fc.constantFrom(16, 64, 64, 200, 512),
    output: fc.constantFrom(8, 32, 32, 100, 256),
    deadline: fc.constantFrom(1, 2, 2, 3.5, 6),
    sizeLimit: fc.nat({ max: 4 }),
  });

  it('seek(index) builds the column that next() reaches in order, and next() goes on from it', () => {
    fc.assert(
      fc.property(
        fc.array(candidateArb, { minLength: 1, maxLength: 24 }),
        fc.integer({ min: 1, max: 3 }),
        (candidates, size) => {
          const column = (): ColumnScan => {
            const deadline = Float64Array.from(candidates, (c) => c.deadline);
            const byDeadline = orderByDescending(deadline);
            return new ColumnScan(
              cost,
              Float64Array.from(candidates, (c) => c.prompt),
              Float64Array.from(candidates, (c) => c.output),
              deadline,
              byDeadline,
              ranksOf(byDeadline),
              Int32Array.from(candidates, (c) => c.sizeLimit),
            );
          };
          const view = (scan: ColumnScan): unknown => ({
            members: [...scan.members.subarray(0, scan.length)].sort((a, b) => a - b),
            prompts: [...scan.members.subarray(0, scan.length)].map(
              (i) => candidates[i]?.prompt ?? 0,
            ),
            first: [1, 2, 3, 4].map((k) => scan.firstPrompt(k)),
            latest: [1, 2, 3, 4].map((k) => scan.kthLatest(k)),
          });
          const inOrder = column();
          inOrder.begin();
          const sought = column();
          for (let index = 0; index < inOrder.outputs.length; index++) {
            const N = inOrder.next(size);
            expect(sought.seek(index, size)).toBe(N);
            expect(view(sought)).toEqual(view(inOrder));
            // From a sought column, next() moves to the one after it, as in order.
            if (index + 1 < inOrder.outputs.length) {
              const after = column();
              after.seek(index, size);
              expect(after.next(size)).toBe(inOrder.outputs[index + 1]);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
