// A follower's way to the leader: the request is passed through unchanged (SSE streams too) to
// the leader's endpoint, which the leader writes on the Lease. A header marks forwarded requests,
// so a replica that is not the leader either never forwards twice.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { PeerCertificate } from 'node:tls';

export const FORWARDED_HEADER = 'x-edgellm-forwarded';

/** How a follower reaches the leader over TLS: it must present the certificate we serve. */
export interface ForwardTls {
  readonly fingerprint256: string;
}

/** Passes `req` (its body already read into `body`) to `target` (host:port) and streams back. */
export function forward(
  req: IncomingMessage,
  body: Buffer,
  res: ServerResponse,
  target: string,
  tls: ForwardTls | undefined,
  onError: (error: Error) => void,
): void {
  const i = target.lastIndexOf(':');
  const options = {
    host: target.slice(0, i).replace(/^\[|\]$/g, ''),
    port: Number(target.slice(i + 1)),
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    headers: { ...req.headers, [FORWARDED_HEADER]: '1', 'content-length': String(body.length) },
  };
  const upstream =
    tls === undefined
      ? httpRequest(options)
      : httpsRequest({
          ...options,
          // The leader's pod IP is in no certificate; what proves it is one of us is that it
          // serves the very certificate we do (all replicas mount the same Secret).
          rejectUnauthorized: false,
          checkServerIdentity: (_host: string, cert: PeerCertificate) =>
            cert.fingerprint256 === tls.fingerprint256
              ? undefined
              : new Error('the leader presented another certificate than this endpoint serves'),
        });
  upstream.on('response', (up) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    up.pipe(res);
  });
  upstream.on('error', onError);
  // The caller went away: so does the forwarded request (the leader then cancels it).
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  upstream.end(body);
}
