// What an error from a Kubernetes API call means, and its message as a person should read it
// (the server's Status message, not the client's dump of headers and body).
import * as k8s from '@kubernetes/client-node';

/** The HTTP status of a failed API call; undefined for errors that never got an answer. */
export function apiStatusCode(error: unknown): number | undefined {
  if (error instanceof k8s.ApiException) return error.code;
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (error: unknown): boolean => apiStatusCode(error) === 404;
export const isConflict = (error: unknown): boolean => apiStatusCode(error) === 409;

/**
 * The API server's etcd is out of space (its NOSPACE alarm): kube-apiserver answers 500 with
 * etcd's own text, `etcdserver: mvcc: database space exceeded`, and no Status reason. The alarm
 * stays until an administrator frees space and disarms it, so a retry within seconds only waits.
 */
export function isStorageFull(error: unknown): boolean {
  return apiStatusCode(error) === 500 && apiErrorMessage(error).includes('database space exceeded');
}

/**
 * Worth retrying: no answer at all (connection refused or reset, a timeout), the server busy or
 * failing (429, 5xx), except a full etcd (isStorageFull). Everything else is an answer that a
 * retry would only repeat.
 */
export function isTransient(error: unknown): boolean {
  const code = apiStatusCode(error);
  return (code === undefined || code === 429 || code >= 500) && !isStorageFull(error);
}

/** The server's message for a failed call (`configmaps "x" not found`), with its HTTP code. */
export function apiErrorMessage(error: unknown): string {
  if (error instanceof k8s.ApiException) {
    const body = error.body as unknown;
    let message: string | undefined;
    if (typeof body === 'string') {
      try {
        message = (JSON.parse(body) as { message?: string }).message;
      } catch {
        message = body === '' ? undefined : body;
      }
    } else if (typeof body === 'object' && body !== null && 'message' in body) {
      message = String(body.message);
    }
    return `HTTP ${error.code}: ${message ?? 'no message'}`;
  }
  if (error instanceof Error) {
    const code = (error as Error & { statusCode?: number }).statusCode;
    return code === undefined ? error.message : `HTTP ${code}: ${error.message}`;
  }
  return String(error);
}
