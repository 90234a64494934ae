// A TCP proxy on loopback in front of a real server (an agent, the API server), so tests can cut
// the network between two real components: `cut()` drops every connection and refuses new ones
// (as a dead link or a stopped server would), `restore()` accepts again on the same port.
import { createServer, connect, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Connections accepted so far. */
  connections = 0;

  private constructor(
    private readonly target: { readonly host: string; readonly port: number },
    private listenPort: number,
  ) {}

  /** The port this proxy listens on (127.0.0.1); kept across cut() and restore(). */
  get port(): number {
    return this.listenPort;
  }

  /** `target` is host:port (IPv4 or a name); the proxy takes a free port unless one is given. */
  static async start(target: string, port = 0): Promise<TcpProxy> {
    const i = target.lastIndexOf(':');
    const proxy = new TcpProxy(
      { host: target.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(target.slice(i + 1)) },
      port,
    );
    await proxy.listen();
    return proxy;
  }

  /** host:port of the proxy. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Drops every connection and stops listening: callers see resets, then refusals. */
  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server)
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
  }

  /** Accepts connections again on the same port. */
  async restore(): Promise<void> {
    if (this.server === undefined) await this.listen();
  }

  async close(): Promise<void> {
    await this.cut();
  }

  private async listen(): Promise<void> {
    const server = createServer((client) => {
      this.connections++;
      const upstream = connect(this.target.port, this.target.host);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address !== null && typeof address === 'object') this.listenPort = address.port;
    this.server = server;
  }
}
