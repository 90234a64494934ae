// GET /metrics over HTTP: the Prometheus text of the registry passed in; optionally health
// probes (e.g. the operator's /healthz and /readyz): 200 `ok` when the check passes, else 503.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  /** host:port actually bound. */
  readonly address: string;
  close(): Promise<void>;
}

/** A probe: undefined when healthy, else what is wrong. */
export type Probe = () => string | undefined;

export async function startMetricsServer(
  registry: Registry,
  host: string,
  port: number,
  probes: Readonly<Record<string, Probe>> = {},
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const probe = probes[path];
    if (req.method === 'GET' && probe) {
      const problem = probe();
      res
        .writeHead(problem === undefined ? 200 : 503, { 'content-type': 'text/plain' })
        .end(`${problem ?? 'ok'}\n`);
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      const paths = ['/metrics', ...Object.keys(probes)].join(', ');
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found; try GET ${paths}\n`);
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    address: `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
