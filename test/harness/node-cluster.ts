// A real one-node Kubernetes cluster for end-to-end tests: the test control plane (etcd +
// kube-apiserver) in node mode, kube-controller-manager and kube-scheduler, and a node made of
// containerd + runc (Debian), the CNI bridge plugin, the kubelet and kube-proxy (iptables mode) in
// the node's own network namespace (node-host.ts). Every Kubernetes binary comes from the one
// cached Go build of test/controlplane (build.sh); the pod sandbox image is built here from its
// `pause` binary. Images are imported into containerd (`ctr images import` of OCI archives).
//
//   const cluster = await startNodeCluster({ images: ['.cache/images/edgellm-images.oci.tar'] });
//   ... cluster.state.kubeconfigs.admin, pods on cluster.state.nodeName ...
//   await stopNodeCluster(cluster);
//
// Imports only packages, node:* and erasable-TypeScript siblings by their .ts name: Jest loads the
// e2e global setup (node-setup.ts) natively with Node's type stripping.
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import {
  ensureBinary,
  installCrds,
  kubeConfigFor,
  repoRoot,
  startControlPlane,
  stopControlPlane,
  type ControlPlaneState,
  type RunningControlPlane,
} from './controlplane.ts';
import {
  CNI_BIN_DIR,
  checkHost,
  claimSlot,
  createCgroup,
  createNetwork,
  isAlive,
  processesMentioning,
  readRecord,
  releaseSlot,
  writeRecord,
  type Slot,
} from './node-host.ts';

/** Set by the e2e global setup for the test workers: the path of node-cluster.json. */
export const NODE_STATE_ENV = 'EDGELLM_NODE_CLUSTER_STATE';

export const NodeClusterDefaults = {
  nodeName: 'edgellm-node-0',
  /** Labels the kubelet registers the node with (the chart's agents run on edge nodes). */
  nodeLabels: { 'edgellm.io/edge-node': 'true' } as Record<string, string>,
  kubeletPort: 10250,
  kubeProxyHealthPort: 10256,
  readyTimeoutSeconds: 180,
  pollMilliseconds: 250,
  /** How long stop waits for the kubelet to remove the pods before it kills what is left. */
  drainSeconds: 30,
  stopSeconds: 10,
} as const;

/** Where the logs of the last cluster are copied when it stops (CI keeps .cache/). */
export const NODE_LOG_DIR = join(repoRoot, '.cache', 'node-cluster', 'logs');

/** Thrown when the cluster cannot start; says which component failed and shows its log. */
export class NodeClusterError extends Error {
  override name = 'NodeClusterError';
}

export const Component = {
  controllerManager: 'kube-controller-manager',
  scheduler: 'kube-scheduler',
  containerd: 'containerd',
  kubelet: 'kubelet',
  kubeProxy: 'kube-proxy',
} as const;
export type Component = (typeof Component)[keyof typeof Component];

/** What node-cluster.json says: everything a test needs to use the cluster. */
export interface NodeClusterState {
  nodeName: string;
  /** The node's address (the kubelet's InternalIP); the API server is on the host's end. */
  nodeIp: string;
  hostIp: string;
  /** Pod IPs are in this range and reachable from the host (tests fetch pod ports directly). */
  podCidr: string;
  netns: string;
  stateDir: string;
  /** The slot's run directory: its record of the components' pids and command lines. */
  runDir: string;
  containerdSocket: string;
  controlPlane: ControlPlaneState;
  controlPlaneStatePath: string;
  /** Log file of every component, and of the control plane. */
  logs: Record<Component | 'controlplane', string>;
  /** Image references imported into containerd, by archive. */
  images: Record<string, string[]>;
  startupSeconds: number;
}

export interface RunningNodeCluster {
  readonly state: NodeClusterState;
  readonly statePath: string;
  readonly slot: Slot;
  readonly controlPlane: RunningControlPlane;
}

export interface NodeClusterOptions {
  nodeName?: string;
  nodeLabels?: Record<string, string>;
  /** OCI archives (`ctr images import`) to load before the cluster is handed out. */
  images?: readonly string[];
  /** Install crds/*.yaml (default false: the chart installs its own). */
  installCrds?: boolean;
}

function binaryDir(): string {
  return dirname(ensureBinary());
}

function logTail(path: string, bytes = 3000): string {
  try {
    return readFileSync(path, 'utf8').slice(-bytes);
  } catch {
    return '(no log)';
  }
}

/** The pause image, built once per pause binary (scripts/images/main.ts), and its reference. */
function pauseImage(bin: string): { archive: string; ref: string } {
  const archive = join(bin, 'pause.oci.tar');
  if (!existsSync(archive)) {
    execFileSync(
      process.execPath,
      [join(repoRoot, 'scripts', 'images', 'main.ts'), 'pause', join(bin, 'pause'), archive],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
  return { archive, ref: archiveRefs(archive)[0] ?? '' };
}

/** The image references an OCI archive's index names (io.containerd.image.name). */
export function archiveRefs(archive: string): string[] {
  const index = JSON.parse(
    execFileSync('tar', ['-xOf', archive, 'index.json'], { encoding: 'utf8' }),
  ) as {
    manifests?: { annotations?: Record<string, string> }[];
  };
  return (index.manifests ?? [])
    .map(
      (m) =>
        m.annotations?.['io.containerd.image.name'] ??
        m.annotations?.['org.opencontainers.image.ref.name'],
    )
    .filter((r): r is string => r !== undefined);
}

function writeConfigs(
  slot: Slot,
  dir: string,
  cp: ControlPlaneState,
  nodeName: string,
  sandboxImage: string,
): Record<string, string> {
  const socket = join(slot.runDir, 'containerd.sock');
  const containerd = join(dir, 'containerd.toml');
  // CRI in containerd 1.6. restrict_oom_score_adj: this VM denies CAP_SYS_RESOURCE, so no process
  // may lower its OOM score; containers get the kubelet's score clamped to containerd's own.
  writeFileSync(
    containerd,
    `version = 2
root = "${join(dir, 'containerd')}"
state = "${join(slot.runDir, 'containerd')}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${join(slot.runDir, 'containerd-ttrpc.sock')}"
[plugins."io.containerd.internal.v1.opt"]
  path = "${join(dir, 'containerd-opt')}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${sandboxImage}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${join(dir, 'cni')}"
`,
  );
  mkdirSync(join(dir, 'cni'), { recursive: true });
  // The bridge plugin: one bridge in the node's namespace, pods masqueraded behind the node's
  // address when they leave it. It does not enforce NetworkPolicy.
  writeFileSync(
    join(dir, 'cni', '10-edgellm.conflist'),
    JSON.stringify({
      cniVersion: '0.4.0',
      name: 'edgellm',
      plugins: [
        {
          type: 'bridge',
          bridge: 'edgellm0',
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: slot.podCidr }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: join(dir, 'cni-ipam'),
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }),
  );
  const kubelet = join(dir, 'kubelet.yaml');
  writeFileSync(
    kubelet,
    JSON.stringify({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      // This VM has cgroup v1 (allowed again with failCgroupV1: false) and no systemd.
      failCgroupV1: false,
      cgroupDriver: 'cgroupfs',
      cgroupRoot: `/${slot.cgroup}`,
      containerRuntimeEndpoint: `unix://${socket}`,
      address: slot.nodeIp,
      port: NodeClusterDefaults.kubeletPort,
      readOnlyPort: 0,
      healthzBindAddress: slot.nodeIp,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: cp.caFile },
      },
      authorization: { mode: 'Webhook' },
      clusterDomain: 'cluster.local',
      failSwapOn: false,
      resolvConf: '',
      // Without CAP_SYS_RESOURCE the kubelet cannot lower its own OOM score.
      oomScoreAdj: 0,
      // The disk is shared with other work: evict only when it is really full, never collect
      // the imported images (they cannot be pulled again).
      evictionHard: {
        'memory.available': '100Mi',
        'nodefs.available': '1%',
        'imagefs.available': '1%',
        'nodefs.inodesFree': '1%',
      },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      serializeImagePulls: false,
      rotateCertificates: false,
      registerNode: true,
      nodeStatusUpdateFrequency: '5s',
    }),
  );
  const kubeProxy = join(dir, 'kube-proxy.yaml');
  writeFileSync(
    kubeProxy,
    JSON.stringify({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: 'iptables',
      clientConnection: { kubeconfig: cp.kubeconfigs['kube-proxy'] },
      hostnameOverride: nodeName,
      clusterCIDR: slot.podCidr,
      bindAddress: slot.nodeIp,
      healthzBindAddress: `${slot.nodeIp}:${NodeClusterDefaults.kubeProxyHealthPort}`,
      metricsBindAddress: `${slot.nodeIp}:10249`,
      nodePortAddresses: ['primary'],
      oomScoreAdj: 0,
      // Leave the host's conntrack table sizes alone.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    }),
  );
  return { socket, containerd, kubelet, kubeProxy };
}

/** Starts argv detached with its output appended to log and records it in the slot's record. */
function launch(runDir: string, name: string, argv: readonly string[], log: string): number {
  const fd = openSync(log, 'a');
  const [command, ...args] = argv;
  const child = spawn(command ?? '', args, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined)
    throw new NodeClusterError(`could not start ${name} (${argv.join(' ')})`);
  const record = readRecord({ runDir });
  if (record) {
    record.pids[name] = child.pid;
    record.commands = { ...record.commands, [name]: { argv: [...argv], log } };
    writeRecord({ runDir }, record);
  }
  return child.pid;
}

function spawnComponent(
  slot: Slot,
  name: Component,
  command: string,
  args: readonly string[],
  logs: Record<string, string>,
  options: { inNode: boolean },
): number {
  const argv = options.inNode
    ? ['nsenter', `--net=/run/netns/${slot.netns}`, '--', command, ...args]
    : [command, ...args];
  return launch(slot.runDir, name, argv, logs[name] ?? '/dev/null');
}

/**
 * Restarts one component of a running cluster the way it was started (the chaos tests restart
 * the kubelet): SIGTERM, or SIGKILL with `kill: true`, waits until it is gone, starts it again.
 * Pods keep running meanwhile (their containers belong to containerd). Returns the new pid.
 */
export async function restartComponent(
  state: Pick<NodeClusterState, 'runDir'>,
  name: Component,
  options: { kill?: boolean } = {},
): Promise<number> {
  const record = readRecord({ runDir: state.runDir });
  const pid = record?.pids[name];
  const command = record?.commands?.[name];
  if (pid === undefined || command === undefined) {
    throw new NodeClusterError(`the node cluster in ${state.runDir} has no ${name} to restart`);
  }
  try {
    process.kill(pid, options.kill === true ? 'SIGKILL' : 'SIGTERM');
  } catch {
    // already gone
  }
  const deadline = performance.now() + NodeClusterDefaults.stopSeconds * 1000;
  while (isAlive(pid) && performance.now() < deadline) await sleep(100);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  return launch(state.runDir, name, command.argv, command.log);
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => {
      resolve(0);
    });
    req.end();
  });
}

async function waitForComponent(
  what: Component,
  pid: number,
  log: string,
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = performance.now() + NodeClusterDefaults.readyTimeoutSeconds * 1000;
  for (;;) {
    if (!isAlive(pid)) throw new NodeClusterError(`${what} exited; its log:\n${logTail(log)}`);
    if (await ready().catch(() => false)) return;
    if (performance.now() > deadline) {
      throw new NodeClusterError(
        `${what} was not ready after ${NodeClusterDefaults.readyTimeoutSeconds}s; its log:\n${logTail(log)}`,
      );
    }
    await sleep(NodeClusterDefaults.pollMilliseconds);
  }
}

function ctr(socket: string, args: readonly string[]): string {
  return execFileSync('ctr', ['--address', socket, '--namespace', 'k8s.io', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Imports OCI archives into the node's containerd; returns the references each one named. */
export function importImages(
  state: Pick<NodeClusterState, 'containerdSocket'>,
  archives: readonly string[],
): Record<string, string[]> {
  const imported: Record<string, string[]> = {};
  for (const archive of archives) {
    if (!existsSync(archive)) {
      throw new NodeClusterError(`image archive ${archive} is missing: run \`make images\` first`);
    }
    const output = ctr(state.containerdSocket, ['images', 'import', archive]);
    imported[archive] = [...output.matchAll(/^unpacking (\S+) /gm)].map((m) => m[1] ?? '');
  }
  return imported;
}

/**
 * Starts the cluster and resolves once the node is Ready, kube-proxy has synced, the controller
 * manager has made the `default` ServiceAccount and the images are imported. Throws a
 * NodeClusterError naming the component that failed, with its log; gives everything back then.
 */
export async function startNodeCluster(
  options: NodeClusterOptions = {},
): Promise<RunningNodeCluster> {
  checkHost();
  const started = performance.now();
  const nodeName = options.nodeName ?? NodeClusterDefaults.nodeName;
  const stateDir = mkdtempSync(join(tmpdir(), 'edgellm-node-'));
  // Pods' users (uid 1000) read the volumes made under it (node.ts createModelClaim).
  chmodSync(stateDir, 0o755);
  const slot = claimSlot(stateDir);
  let controlPlane: RunningControlPlane | undefined;
  try {
    const bin = binaryDir();
    const pause = pauseImage(bin);
    createNetwork(slot);
    createCgroup(slot);
    controlPlane = await startControlPlane(join(bin, 'edgellm-controlplane'), [
      '--address',
      slot.hostIp,
      '--node-name',
      nodeName,
    ]);
    const record = readRecord(slot);
    if (record) {
      record.pids.controlplane = controlPlane.state.pid;
      writeRecord(slot, record);
    }
    const cp = controlPlane.state;
    const logDir = join(stateDir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const logs = Object.fromEntries(
      Object.values(Component).map((c) => [c, join(logDir, `${c}.log`)]),
    ) as Record<Component, string>;
    const configs = writeConfigs(slot, stateDir, cp, nodeName, pause.ref);
    const kubeconfig = (identity: string): string => cp.kubeconfigs[identity] ?? '';
    const admin = kubeConfigFor(cp, 'admin');
    const core = admin.makeApiClient(k8s.CoreV1Api);

    const kcm = spawnComponent(
      slot,
      Component.controllerManager,
      join(bin, 'kube-controller-manager'),
      [
        `--kubeconfig=${kubeconfig('kube-controller-manager')}`,
        `--authentication-kubeconfig=${kubeconfig('kube-controller-manager')}`,
        `--authorization-kubeconfig=${kubeconfig('kube-controller-manager')}`,
        '--leader-elect=false',
        '--secure-port=0',
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${cp.files['sa.key'] ?? ''}`,
        `--root-ca-file=${cp.caFile}`,
        `--cluster-signing-cert-file=${cp.caFile}`,
        `--cluster-signing-key-file=${cp.files['ca.key'] ?? ''}`,
        `--service-cluster-ip-range=${cp.serviceCidr ?? ''}`,
      ],
      logs,
      { inNode: false },
    );
    const scheduler = spawnComponent(
      slot,
      Component.scheduler,
      join(bin, 'kube-scheduler'),
      [
        `--kubeconfig=${kubeconfig('kube-scheduler')}`,
        `--authentication-kubeconfig=${kubeconfig('kube-scheduler')}`,
        `--authorization-kubeconfig=${kubeconfig('kube-scheduler')}`,
        '--leader-elect=false',
        '--secure-port=0',
      ],
      logs,
      { inNode: false },
    );
    const containerd = spawnComponent(
      slot,
      Component.containerd,
      'containerd',
      ['--config', configs.containerd ?? ''],
      logs,
      { inNode: true },
    );
    const socket = configs.socket ?? '';
    await waitForComponent(Component.containerd, containerd, logs.containerd, () =>
      Promise.resolve(existsSync(socket) && ctr(socket, ['version']).includes('Server')),
    );
    const images = importImages({ containerdSocket: socket }, [
      pause.archive,
      ...(options.images ?? []),
    ]);

    const labels = Object.entries(options.nodeLabels ?? NodeClusterDefaults.nodeLabels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const kubelet = spawnComponent(
      slot,
      Component.kubelet,
      join(bin, 'kubelet'),
      [
        `--config=${configs.kubelet ?? ''}`,
        `--kubeconfig=${kubeconfig('kubelet')}`,
        `--root-dir=${join(stateDir, 'kubelet')}`,
        `--cert-dir=${join(stateDir, 'kubelet-pki')}`,
        `--hostname-override=${nodeName}`,
        `--node-ip=${slot.nodeIp}`,
        ...(labels === '' ? [] : [`--node-labels=${labels}`]),
        '-v=1',
      ],
      logs,
      { inNode: true },
    );
    const kubeProxy = spawnComponent(
      slot,
      Component.kubeProxy,
      join(bin, 'kube-proxy'),
      [`--config=${configs.kubeProxy ?? ''}`, '-v=1'],
      logs,
      { inNode: true },
    );
    await waitForComponent(Component.kubelet, kubelet, logs.kubelet, async () => {
      const node = await core.readNode({ name: nodeName });
      return (
        node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
      );
    });
    await waitForComponent(Component.kubeProxy, kubeProxy, logs['kube-proxy'], async () => {
      const status = await httpStatus(
        `http://${slot.nodeIp}:${NodeClusterDefaults.kubeProxyHealthPort}/healthz`,
      );
      return status === 200;
    });
    await waitForComponent(
      Component.controllerManager,
      kcm,
      logs['kube-controller-manager'],
      async () => {
        await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
        await core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: 'default' });
        return true;
      },
    );
    if (!isAlive(scheduler)) {
      throw new NodeClusterError(
        `kube-scheduler exited; its log:\n${logTail(logs['kube-scheduler'])}`,
      );
    }
    if (options.installCrds === true) await installCrds(admin);

    const state: NodeClusterState = {
      nodeName,
      nodeIp: slot.nodeIp,
      hostIp: slot.hostIp,
      podCidr: slot.podCidr,
      netns: slot.netns,
      stateDir,
      runDir: slot.runDir,
      containerdSocket: socket,
      controlPlane: cp,
      controlPlaneStatePath: controlPlane.statePath,
      logs: { ...logs, controlplane: controlPlane.logPath },
      images,
      startupSeconds: (performance.now() - started) / 1000,
    };
    const statePath = join(stateDir, 'node-cluster.json');
    writeFileSync(statePath, JSON.stringify(state, null, 2));
    console.log(
      `edgellm: node cluster ready in ${state.startupSeconds.toFixed(1)}s: node ${nodeName} (${slot.nodeIp}, pods ${slot.podCidr}), API ${cp.server}, state ${statePath}`,
    );
    return { state, statePath, slot, controlPlane };
  } catch (error) {
    if (controlPlane !== undefined) await stopControlPlane(controlPlane).catch(() => undefined);
    saveLogs(stateDir);
    releaseSlot(slot, readRecord(slot));
    throw error;
  }
}

/** Copies the cluster's logs to .cache/node-cluster/logs/ (the last cluster's only). */
function saveLogs(stateDir: string): void {
  try {
    rmSyncQuiet(NODE_LOG_DIR);
    mkdirSync(NODE_LOG_DIR, { recursive: true });
    if (existsSync(join(stateDir, 'logs')))
      cpSync(join(stateDir, 'logs'), NODE_LOG_DIR, { recursive: true });
  } catch {
    // logs are a courtesy
  }
}

function rmSyncQuiet(path: string): void {
  try {
    execFileSync('rm', ['-rf', path]);
  } catch {
    // ignore
  }
}

/**
 * Stops the cluster: deletes every pod so the kubelet tears the sandboxes down (CNI releases
 * their addresses, containerd unmounts their filesystems), stops the node's components and the
 * control plane, then gives back whatever is left (node-host.ts releaseSlot).
 */
export async function stopNodeCluster(cluster: RunningNodeCluster): Promise<void> {
  const { state, slot } = cluster;
  const stopping = performance.now();
  try {
    const core = kubeConfigFor(state.controlPlane, 'admin').makeApiClient(k8s.CoreV1Api);
    const pods = await core.listPodForAllNamespaces();
    await Promise.all(
      pods.items.map((p) =>
        core
          .deleteNamespacedPod({
            name: p.metadata?.name ?? '',
            namespace: p.metadata?.namespace ?? '',
            gracePeriodSeconds: 0,
          })
          .catch(() => undefined),
      ),
    );
    const deadline = performance.now() + NodeClusterDefaults.drainSeconds * 1000;
    while (performance.now() < deadline) {
      const tasks = ctr(state.containerdSocket, ['tasks', 'ls', '-q']).trim();
      if (tasks === '') break;
      await sleep(500);
    }
  } catch {
    // a broken cluster is torn down the hard way below
  }
  const record = readRecord(slot);
  for (const name of [
    Component.kubelet,
    Component.kubeProxy,
    Component.scheduler,
    Component.controllerManager,
  ]) {
    const pid = record?.pids[name];
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
  }
  const containerd = record?.pids[Component.containerd];
  if (containerd !== undefined) {
    try {
      process.kill(containerd, 'SIGTERM');
    } catch {
      // gone
    }
  }
  const deadline = performance.now() + NodeClusterDefaults.stopSeconds * 1000;
  while (
    performance.now() < deadline &&
    Object.entries(record?.pids ?? {}).some(
      ([name, pid]) => name !== 'controlplane' && isAlive(pid),
    )
  ) {
    await sleep(200);
  }
  await stopControlPlane(cluster.controlPlane);
  saveLogs(state.stateDir);
  const leftovers = processesMentioning(`${slot.runDir}/`).length;
  releaseSlot(slot, readRecord(slot));
  console.log(
    `edgellm: node cluster stopped in ${((performance.now() - stopping) / 1000).toFixed(1)}s${leftovers > 0 ? ` (${leftovers} shim processes killed)` : ''}; logs in ${NODE_LOG_DIR}`,
  );
}
