// Stop sequences over a stream of text deltas (OpenAI `stop`): generation ends as soon as a stop
// string is complete (the one that ends first; of two ending together, the longer), and the text
// ends where that stop string starts. Text that might be the start of
// a stop string is held back until the next delta decides it, so nothing emitted is ever taken
// back. Pure.

export class StopMatcher {
  private text = '';
  private emitted = 0;
  private hit = false;
  private readonly longest: number;

  constructor(private readonly stops: readonly string[]) {
    this.longest = Math.max(0, ...stops.map((s) => s.length));
  }

  /** Whether a stop string appeared: generation should end. */
  get stopped(): boolean {
    return this.hit;
  }

  /** All the text up to the stop string (everything so far while none appeared). */
  get finalText(): string {
    return this.text;
  }

  /** Feeds a delta; returns the text that is safe to emit now. */
  push(delta: string): string {
    if (this.hit || delta === '') return '';
    // A stop string can only end in the new delta, so it starts at most longest - 1 before it.
    const from = Math.max(0, this.text.length - this.longest + 1);
    this.text += delta;
    let at = -1;
    let end = Infinity;
    for (const stop of this.stops) {
      const i = this.text.indexOf(stop, from);
      if (i < 0) continue;
      const e = i + stop.length;
      if (e < end || (e === end && i < at)) {
        at = i;
        end = e;
      }
    }
    if (at >= 0) {
      this.hit = true;
      this.text = this.text.slice(0, at);
      const out = this.text.slice(this.emitted);
      this.emitted = this.text.length;
      return out;
    }
    const safe = this.text.length - this.heldBack();
    if (safe <= this.emitted) return '';
    const out = this.text.slice(this.emitted, safe);
    this.emitted = safe;
    return out;
  }

  /** At the end of generation: the held-back rest (no stop string appeared). */
  flush(): string {
    const out = this.text.slice(this.emitted);
    this.emitted = this.text.length;
    return out;
  }

  /** Length of the longest suffix of the text that is a proper prefix of a stop string. */
  private heldBack(): number {
    let best = 0;
    for (const stop of this.stops)
      for (let n = Math.min(stop.length - 1, this.text.length); n > best; n--)
        if (this.text.endsWith(stop.slice(0, n))) {
          best = n;
          break;
        }
    return best;
  }
}
