// One streamed completion through an OpenAI-compatible endpoint with plain fetch, timed from the
// moment the request is sent: when the first generated text arrives (a server-sent event whose
// choice carries non-empty text) and when the stream ends ([DONE]). Every way it can end is an
// outcome, never an exception, so a benchmark under overload keeps counting.
import { performance } from 'node:perf_hooks';

export type StreamOutcomeKind =
  /** Answered 200 and streamed to [DONE]. */
  | 'succeeded'
  /** Answered with an HTTP error before any event (status holds it: 429, 503, 504...). */
  | 'refused'
  /** Answered 200, then an error event ended the stream (code holds its code). */
  | 'failed'
  /** Still running when the caller aborted it. */
  | 'unfinished'
  /** No HTTP answer, or the stream broke without [DONE]. */
  | 'broken';

export interface StreamOutcome {
  readonly kind: StreamOutcomeKind;
  /** HTTP status (0 when none came). */
  readonly status: number;
  /** OpenAI error code of a refusal or an error event. */
  readonly code?: string;
  /** Send to first generated text, ms. */
  readonly firstTokenMs?: number;
  /** Send to [DONE], ms (succeeded only). */
  readonly endMs?: number;
  /** Generated tokens, from the final usage chunk. */
  readonly completionTokens?: number;
}

interface StreamEvent {
  readonly choices?: readonly {
    readonly text?: string;
    readonly delta?: { readonly content?: string | null };
  }[];
  readonly usage?: { readonly completion_tokens?: number } | null;
  readonly error?: { readonly code?: string };
}

/** POSTs `body` (with stream: true) to `url` and reads the server-sent events to the end. */
export async function streamCompletion(
  url: string,
  body: Readonly<Record<string, unknown>>,
  headers: Readonly<Record<string, string>>,
  signal: AbortSignal,
): Promise<StreamOutcome> {
  const sent = performance.now();
  let status = 0;
  let firstTokenMs: number | undefined;
  let completionTokens: number | undefined;
  const timing = (): Pick<StreamOutcome, 'firstTokenMs' | 'completionTokens'> => ({
    ...(firstTokenMs === undefined ? {} : { firstTokenMs }),
    ...(completionTokens === undefined ? {} : { completionTokens }),
  });
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      signal,
    });
    status = res.status;
    if (!res.ok || res.body === null) {
      const text = await res.text();
      let code: string | undefined;
      try {
        code = (JSON.parse(text) as StreamEvent).error?.code;
      } catch {
        code = undefined;
      }
      return { kind: 'refused', status, ...(code === undefined ? {} : { code }) };
    }
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const bytes of res.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(bytes, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          const data = line.slice('data: '.length);
          if (data === '[DONE]')
            return { kind: 'succeeded', status, endMs: performance.now() - sent, ...timing() };
          const parsed = JSON.parse(data) as StreamEvent;
          if (parsed.error !== undefined)
            return {
              kind: 'failed',
              status,
              ...(parsed.error.code === undefined ? {} : { code: parsed.error.code }),
              ...timing(),
            };
          const choice = parsed.choices?.[0];
          const text = choice?.text ?? choice?.delta?.content ?? '';
          if (text !== '') firstTokenMs ??= performance.now() - sent;
          if (typeof parsed.usage?.completion_tokens === 'number')
            completionTokens = parsed.usage.completion_tokens;
        }
      }
    }
    return { kind: 'broken', status, ...timing() };
  } catch (error) {
    if (signal.aborted) return { kind: 'unfinished', status, ...timing() };
    return { kind: 'broken', status, code: (error as Error).message, ...timing() };
  }
}
