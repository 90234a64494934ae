// Stop sequences over streamed deltas: the emitted text never includes a stop string or has to be
// taken back, whatever the delta boundaries; property-tested against cutting the whole text.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { StopMatcher } from '../../../src/agent/stop-sequences.js';

function run(deltas: readonly string[], stops: readonly string[]): { out: string; m: StopMatcher } {
  const m = new StopMatcher(stops);
  let out = '';
  for (const d of deltas) {
    out += m.push(d);
    if (m.stopped) break;
  }
  if (!m.stopped) out += m.flush();
  return { out, m };
}

/**
 * The reference, one character at a time as a model would write it: stop at the first position
 * where a stop string is complete, and cut where that stop string starts (the longer of two that
 * end together).
 */
function cut(text: string, stops: readonly string[]): string {
  for (let end = 1; end <= text.length; end++) {
    const prefix = text.slice(0, end);
    const done = stops.filter((s) => prefix.endsWith(s));
    if (done.length > 0) return prefix.slice(0, end - Math.max(...done.map((s) => s.length)));
  }
  return text;
}

describe('StopMatcher', () => {
  it('stops before a stop string split across deltas and holds back a possible start', () => {
    const m = new StopMatcher(['\nUser:']);
    expect(m.push('Hello')).toBe('Hello');
    expect(m.push(' there\nUs')).toBe(' there');
    expect(m.stopped).toBe(false);
    expect(m.push('er: next')).toBe('');
    expect(m.stopped).toBe(true);
    expect(m.finalText).toBe('Hello there');
  });

  it('releases held-back text when it turns out not to be a stop', () => {
    const m = new StopMatcher(['END']);
    expect(m.push('The EN')).toBe('The ');
    expect(m.push('D')).toBe('');
    expect(m.stopped).toBe(true);
    const n = new StopMatcher(['END']);
    expect(n.push('The EN')).toBe('The ');
    expect(n.push('ergy')).toBe('ENergy');
    expect(n.flush()).toBe('');
  });

  it('equals cutting the whole text, for any deltas and stops', () => {
    const alphabet = fc.constantFrom('a', 'b', 'c', '\n');
    const text = fc.array(alphabet, { maxLength: 40 }).map((a) => a.join(''));
    const stop = fc.array(alphabet, { minLength: 1, maxLength: 4 }).map((a) => a.join(''));
    fc.assert(
      fc.property(
        text,
        fc.array(stop, { minLength: 1, maxLength: 3 }),
        fc.array(fc.nat(5)),
        (t, stops, sizes) => {
          const deltas: string[] = [];
          let i = 0;
          for (const s of sizes) {
            if (i >= t.length) break;
            deltas.push(t.slice(i, i + s + 1));
            i += s + 1;
          }
          if (i < t.length) deltas.push(t.slice(i));
          const { out, m } = run(deltas, stops);
          expect(out).toBe(cut(t, stops));
          expect(m.finalText).toBe(cut(t, stops));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
