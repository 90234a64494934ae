// Jest global setup of the `e2e` project (jest.config.js): starts one node cluster for the whole
// run with the images of `make images`, as a child process (node-cluster-main.ts) that stops
// the cluster when its stdin closes, so a killed Jest leaves nothing running; tells the test
// workers where the cluster is through EDGELLM_NODE_CLUSTER_STATE. Jest runs it only when a
// selected test lives under test/e2e/. Imports only node:* (Jest loads it outside its module
// system, where sibling modules do not resolve); global teardown: node-teardown.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const STATE_ENV = 'EDGELLM_NODE_CLUSTER_STATE';

function findRepoRoot(start: string): string {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'test', 'harness', 'node-cluster-main.ts'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no edgellm checkout at or above ${start}`);
  }
}

declare global {
  /** Set by the e2e global setup, called by node-teardown.ts (same process). */
  var edgellmStopNodeCluster: (() => Promise<void>) | undefined;
}

export default async function globalSetup(): Promise<void> {
  const root = findRepoRoot(process.cwd());
  const images = join(root, '.cache', 'images', 'edgellm-images.oci.tar');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      join(root, 'test', 'harness', 'node-cluster-main.ts'),
      '--exit-on-stdin-eof',
      '--image',
      images,
    ],
    { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const statePath = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = new RegExp(`^${STATE_ENV}=(.*)$`, 'm').exec(out);
      if (match?.[1] !== undefined) resolve(match[1]);
      // The cluster's own lines (start and stop times) go to Jest's output.
      const lines = out.split('\n');
      out = lines.pop() ?? '';
      for (const line of lines) if (!line.startsWith(`${STATE_ENV}=`)) console.log(line);
    });
    void exited.then((code) => {
      reject(
        new Error(`the node cluster did not start (exit ${String(code)}); see its output above`),
      );
    });
  });
  process.env[STATE_ENV] = statePath;
  globalThis.edgellmStopNodeCluster = async () => {
    globalThis.edgellmStopNodeCluster = undefined;
    child.stdin?.end();
    await exited;
  };
}
