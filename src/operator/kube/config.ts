// A KubeConfig whose API calls share connections. @kubernetes/client-node 2.x builds a new undici
// Agent for every API call (KubeConfig.applySecurityAuthentication -> createDispatcher), so each
// call opens a fresh TCP connection and TLS handshake and no connection is ever reused. For an
// operator that writes status for every request, that is most of the cost of a write (see
// `make bench BENCH_ARGS='--only operator'`, table "API client"). This subclass keeps one
// dispatcher per TLS identity (server, CA, client certificate and key, verification settings)
// and hands it to every call; when the identity changes (a rotated client certificate file),
// the next call gets a new dispatcher and the old one closes once its requests finish.
import { createHash } from 'node:crypto';
import type { RequestOptions } from 'node:https';
import * as k8s from '@kubernetes/client-node';

type RequestContext = Parameters<k8s.KubeConfig['applySecurityAuthentication']>[0];
type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

function part(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Buffer.isBuffer(value) || typeof value === 'string') return value.toString();
  if (Array.isArray(value)) return value.map(part).join('\u0001');
  return JSON.stringify(value);
}

export class PooledKubeConfig extends k8s.KubeConfig {
  private pooled: { key: string; dispatcher: Dispatcher } | undefined;

  /** A copy of `source` (its current cluster and user) that pools connections. */
  static from(source: k8s.KubeConfig): PooledKubeConfig {
    if (source instanceof PooledKubeConfig) return source;
    const cluster = source.getCurrentCluster();
    const user = source.getCurrentUser();
    if (cluster === null || user === null)
      throw new Error('the kubeconfig has no current context (cluster and user)');
    const pooled = new PooledKubeConfig();
    pooled.loadFromClusterAndUser(cluster, user);
    return pooled;
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (fresh === undefined) return;
    const tls: RequestOptions = {};
    await this.applyToHTTPSOptions(tls);
    const cluster = this.getCurrentCluster();
    const key = createHash('sha256')
      .update(
        [
          cluster?.server,
          cluster?.proxyUrl,
          tls.ca,
          tls.cert,
          tls.key,
          tls.pfx,
          tls.passphrase,
          tls.rejectUnauthorized,
          tls.servername,
        ]
          .map(part)
          .join('\u0000'),
      )
      .digest('hex');
    if (this.pooled?.key !== key) {
      const previous = this.pooled?.dispatcher;
      this.pooled = { key, dispatcher: fresh };
      // close() lets requests in flight (watches included) finish first.
      void previous?.close().catch(() => undefined);
    } else {
      // Never connected: closing it is immediate and frees nothing but the object.
      void fresh.close().catch(() => undefined);
    }
    context.setDispatcher(this.pooled.dispatcher);
  }
}
