// Which callers the agent serves: with mTLS, any certificate the configured CA signed proves
// membership of the cluster, but only the identities in tls.allowedClients (the operator's) may
// call the AgentService. So an agent's own certificate, or another component's, cannot be used
// to drive an agent. An empty list serves every certificate the CA signed.
import type { PeerCertificate } from 'node:tls';
import { permissionDenied } from './errors.js';

/** The identities a client certificate names: its common name and its DNS SANs. */
export function certificateIdentities(cert: PeerCertificate | undefined): string[] {
  if (cert === undefined) return [];
  const names: string[] = [];
  // An empty object when the peer sent no certificate, despite the type.
  const cn = (cert.subject as PeerCertificate['subject'] | undefined)?.CN;
  if (typeof cn === 'string' && cn !== '') names.push(cn);
  for (const entry of (cert.subjectaltname ?? '').split(',')) {
    const [kind, value] = entry.trim().split(':', 2);
    if (kind === 'DNS' && value !== undefined && value !== '') names.push(value);
  }
  return names;
}

/**
 * Throws PERMISSION_DENIED unless the peer certificate names one of `allowed` (no check when
 * `allowed` is empty, or when the server runs without TLS, where no identity exists).
 */
export function authorizeClient(
  allowed: readonly string[],
  peer: { readonly sslPeerCertificate?: PeerCertificate } | null,
): void {
  if (allowed.length === 0 || peer === null) return;
  const names = certificateIdentities(peer.sslPeerCertificate);
  if (names.some((n) => allowed.includes(n))) return;
  throw permissionDenied(
    `client certificate ${names.length > 0 ? `for ${names.join(', ')}` : 'without a name'} is not allowed to call this agent (tls.allowedClients: ${allowed.join(', ')})`,
  );
}
