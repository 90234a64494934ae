// A loopback HTTP server of model files for tests of Model sources: serves each registered path
// (honouring Range requests, as object stores and CDNs do) and records every GET it answered.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedGet {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
}

export class ModelServer {
  readonly gets: ServedGet[] = [];
  private readonly files = new Map<string, Uint8Array>();
  private server: Server | undefined;

  /** Serves `bytes` at `path` (e.g. /models/tiny.gguf). */
  serve(path: string, bytes: Uint8Array): void {
    this.files.set(path, bytes);
  }

  async start(host = '127.0.0.1'): Promise<void> {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      this.gets.push({ path, headers: req.headers });
      const file = this.files.get(path);
      if (file === undefined) {
        res.writeHead(404).end('not found');
        return;
      }
      const range = /^bytes=([0-9]+)-([0-9]*)$/.exec(req.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        const end = Math.min(file.length - 1, range[2] ? Number(range[2]) : file.length - 1);
        res.writeHead(206, {
          'content-range': `bytes ${start}-${end}/${file.length}`,
          'content-length': end - start + 1,
        });
        res.end(file.subarray(start, end + 1));
        return;
      }
      res.writeHead(200, { 'content-length': file.length });
      res.end(file);
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
  }

  url(path: string): string {
    const address = this.server?.address() as AddressInfo;
    return `http://${address.address}:${address.port}${path}`;
  }

  /** GETs of `path` answered so far. */
  count(path: string): number {
    return this.gets.filter((g) => g.path === path).length;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  }
}
