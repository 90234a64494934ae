// Runs a node cluster (node-cluster.ts) until SIGTERM/SIGINT, or until stdin closes with
// --exit-on-stdin-eof, then stops it. The e2e global setup (node-setup.ts) runs it as a child so
// the cluster goes away even when Jest is killed; `make node-cluster` runs it in the foreground.
// Prints `EDGELLM_NODE_CLUSTER_STATE=<path of node-cluster.json>` once the cluster is ready.
//   node test/harness/node-cluster-main.ts [--image ARCHIVE]... [--install-crds] [--exit-on-stdin-eof]
// Runs on Node's type stripping.
import { parseArgs } from 'node:util';
import { NODE_STATE_ENV, startNodeCluster, stopNodeCluster } from './node-cluster.ts';

const { values } = parseArgs({
  options: {
    image: { type: 'string', multiple: true, default: [] },
    'install-crds': { type: 'boolean', default: false },
    'exit-on-stdin-eof': { type: 'boolean', default: false },
  },
});

const cluster = await startNodeCluster({
  images: values.image,
  installCrds: values['install-crds'],
});
process.stdout.write(`${NODE_STATE_ENV}=${cluster.statePath}\n`);
const admin = cluster.state.controlPlane.kubeconfigs.admin;
process.stderr.write(
  `edgellm: KUBECONFIG=${admin} (any kubectl or helm); Ctrl-C stops the cluster; logs in ${cluster.state.stateDir}/logs\n`,
);

// Signal handlers and a paused stdin keep no event loop alive: this does, until stop() exits.
const keepAlive = setInterval(() => undefined, 1 << 30);
let stopping = false;
const stop = (why: string): void => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`edgellm: ${why}, stopping the node cluster\n`);
  stopNodeCluster(cluster).then(
    () => {
      clearInterval(keepAlive);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`edgellm: stopping the node cluster failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.once('SIGTERM', () => {
  stop('SIGTERM');
});
process.once('SIGINT', () => {
  stop('SIGINT');
});
if (values['exit-on-stdin-eof']) {
  process.stdin.resume();
  process.stdin.once('end', () => {
    stop('stdin closed');
  });
}
