// What `kubectl get` prints for an object: the API server's Table rendering (the CRD's printer
// columns), fetched with the Accept header kubectl sends.
import https from 'node:https';
import type * as k8s from '@kubernetes/client-node';

export interface ServerTable {
  readonly columnDefinitions: readonly { readonly name: string }[];
  readonly rows: readonly { readonly cells: readonly unknown[] }[];
}

/** GETs `path` (e.g. /apis/edgellm.io/v1alpha1/models/x) as a meta.k8s.io/v1 Table. */
export async function serverTable(kc: k8s.KubeConfig, path: string): Promise<ServerTable> {
  const server = new URL(kc.getCurrentCluster()?.server ?? '');
  const options: https.RequestOptions = {
    hostname: server.hostname,
    port: server.port,
    path,
    headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
  };
  await kc.applyToHTTPSOptions(options);
  return new Promise<ServerTable>((resolve, reject) => {
    https
      .get(options, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) {
            reject(new Error(`GET ${path}: HTTP ${String(res.statusCode)}: ${body}`));
            return;
          }
          try {
            resolve(JSON.parse(body) as ServerTable);
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      })
      .on('error', reject);
  });
}
