// Turns a growing list of generated tokens into text deltas. Multi-byte characters can span
// tokens; a trailing U+FFFD (an incomplete UTF-8 sequence so far) is held back until the next
// token completes it, so each emitted delta is final; flush() emits the rest at the end.

const REPLACEMENT = '\uFFFD';

export class TextStream {
  private emitted = 0;

  constructor(private readonly detokenize: () => string) {}

  /** Text added since the last call, or '' when nothing final is new. */
  next(): string {
    const full = this.detokenize();
    let stable = full.length;
    while (stable > this.emitted && full[stable - 1] === REPLACEMENT) stable--;
    if (stable <= this.emitted) return '';
    const delta = full.slice(this.emitted, stable);
    this.emitted = stable;
    return delta;
  }

  /** Everything not yet emitted, incomplete characters included (at the end of generation). */
  flush(): string {
    const full = this.detokenize();
    const rest = full.slice(this.emitted);
    this.emitted = full.length;
    return rest;
  }
}
