// GET over HTTP(S) with the errors a user can act on: the host that could not be reached and why,
// or the status the server answered with.
import { errorMessage } from '../util/errors.js';
import { FETCH_REASON, ModelFetchError } from './errors.js';

export interface GetOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

/**
 * The cause chain of a failed fetch: undici throws "fetch failed" with the reason (ECONNREFUSED,
 * ENOTFOUND, a TLS error) in `cause`, or in an AggregateError's `errors` when every address
 * failed. Duck-typed: the errors may come from another realm.
 */
function causeOf(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  while (typeof e === 'object' && e !== null && parts.length < 4) {
    const { code, message, cause, errors } = e as {
      code?: unknown;
      message?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    const text = typeof message === 'string' && message !== '' ? message : undefined;
    if (typeof code === 'string')
      parts.push(text?.includes(code) ? text : `${code}${text ? ` ${text}` : ''}`);
    else if (text !== undefined) parts.push(text);
    e = cause ?? (Array.isArray(errors) ? (errors as unknown[])[0] : undefined);
  }
  return parts.length > 0 ? parts.join(': ') : errorMessage(error);
}

/** GET `url` whatever the status it answers; throws SourceUnreachable when it cannot be reached. */
export async function request(url: string, options: GetOptions = {}): Promise<Response> {
  try {
    return await fetch(url, {
      headers: options.headers ?? {},
      redirect: 'follow',
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ModelFetchError(
      FETCH_REASON.sourceUnreachable,
      `GET ${url}: cannot reach it (${causeOf(error)})`,
    );
  }
}

/** `response` when its status is 2xx, else SourceUnreachable naming the status. */
export async function ensureOk(response: Response, url: string): Promise<Response> {
  if (!response.ok) {
    await response.body?.cancel();
    throw new ModelFetchError(
      FETCH_REASON.sourceUnreachable,
      `GET ${url}: the server answered ${response.status} ${response.statusText}`,
    );
  }
  return response;
}

/** GET `url`; resolves with a response whose status is 2xx, else throws SourceUnreachable. */
export async function get(url: string, options: GetOptions = {}): Promise<Response> {
  return ensureOk(await request(url, options), url);
}
