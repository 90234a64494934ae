// Durations of InferenceRequest spec.latencyBudget: Go's time.Duration text (what kubectl users
// write elsewhere in Kubernetes: `500ms`, `30s`, `1m30s`, `1.5h`), without a sign. Written here
// rather than taken from npm: the common packages accept other grammars too (`ms` takes
// "2 days", `parse-duration` takes "1hr 20mins" and ignores junk), and a latency budget should
// be rejected loudly when it is not what the CRD documents.

export class DurationError extends Error {
  override name = 'DurationError';
}

const UNIT_SECONDS = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
} as const;

const WHOLE =
  /^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h)(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))*$/u;
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gu;

/** Seconds of a Go-style duration; throws DurationError naming the text and the grammar. */
export function parseDurationSeconds(text: string): number {
  if (!WHOLE.test(text)) {
    throw new DurationError(
      `"${text}" is not a duration: write a number and a unit (ns, us, ms, s, m, h), optionally repeated, e.g. 500ms, 30s, 1m30s`,
    );
  }
  let seconds = 0;
  for (const match of text.matchAll(PART)) {
    const value = Number(match[1]);
    const unit = match[2] as keyof typeof UNIT_SECONDS;
    seconds += value * UNIT_SECONDS[unit];
  }
  return seconds;
}
