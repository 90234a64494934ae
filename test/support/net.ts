// TCP ports on loopback (for processes that take host:port rather than port 0).
import { createServer } from 'node:net';

/** Listens on `port` (0: any) and closes again; resolves the port it got. */
function probe(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address) resolve(address.port);
        else reject(new Error('no free port'));
      });
    });
  });
}

export function freePort(): Promise<number> {
  return probe(0);
}

/** Whether `port` can be listened on now. */
export async function portIsFree(port: number): Promise<boolean> {
  try {
    await probe(port);
    return true;
  } catch {
    return false;
  }
}
