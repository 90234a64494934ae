// The host side of a test node: what the node needs from this machine and how it is given back.
// Each node gets a slot N (1..250) under /run/edgellm-nodes/N, so several test runs on one
// machine never meet: its own network namespace `edgellm-N` (the node's address 10.222.N.2, the
// host's end of the veth pair 10.222.N.1, pods in 10.223.N.0/24, routed from the host so tests
// reach pod IPs; kube-proxy's and the CNI bridge's iptables rules live inside that namespace and
// go with it), its own cgroup `/edgellm-N` for the pods, and its own containerd. Needs root.
//
// Imports only packages and node:*, and uses only erasable TypeScript: Jest loads the e2e global
// setup (node-setup.ts) natively, with Node's type stripping.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** The Debian packages a test node needs, and the commands that tell whether they are there. */
export const NODE_PACKAGES = {
  containerd: ['containerd', 'containerd-shim-runc-v2', 'ctr'],
  runc: ['runc'],
  iptables: ['iptables', 'iptables-save', 'iptables-restore'],
  conntrack: ['conntrack'],
  'containernetworking-plugins': ['/usr/lib/cni/bridge', '/usr/lib/cni/host-local'],
} as const;

export const CNI_BIN_DIR = '/usr/lib/cni';

const SLOT_ROOT = '/run/edgellm-nodes';
const SLOTS = 250;

/** Thrown when this machine cannot run a test node; the message says what to install or do. */
export class NodeHostError extends Error {
  override name = 'NodeHostError';
}

export interface Slot {
  readonly index: number;
  readonly netns: string;
  readonly hostVeth: string;
  readonly nodeVeth: string;
  readonly hostIp: string;
  readonly nodeIp: string;
  readonly podCidr: string;
  /** Short paths for sockets (at most 108 bytes): containerd's, the shims'. */
  readonly runDir: string;
  /** The cgroup (in every v1 hierarchy, or the v2 tree) that holds the node's pods. */
  readonly cgroup: string;
}

/** What a slot's record says, so a later run can clean up after one that died. */
export interface SlotRecord {
  ownerPid: number;
  stateDir: string;
  /** Processes the node started (control plane, kubelet, containerd, ...), by component. */
  pids: Record<string, number>;
  /** How each component was started (argv[0] and the rest), so a test can restart it. */
  commands?: Record<string, { argv: string[]; log: string }>;
}

function commandExists(command: string): boolean {
  if (command.startsWith('/')) return existsSync(command);
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Throws unless this process is root and every package and kernel feature a node needs is here. */
export function checkHost(): void {
  if (process.getuid?.() !== 0) {
    throw new NodeHostError(
      'a test node needs root (network namespaces, cgroups, mounts): run the e2e tests as root',
    );
  }
  const missing = Object.entries(NODE_PACKAGES)
    .filter(([, commands]) => commands.some((c) => !commandExists(c)))
    .map(([pkg]) => pkg);
  for (const tool of ['ip', 'nsenter', 'umount', 'tar']) {
    if (!commandExists(tool)) missing.push(tool === 'ip' ? 'iproute2' : 'util-linux');
  }
  if (missing.length > 0) {
    throw new NodeHostError(
      `a test node needs the Debian packages ${[...new Set(missing)].join(', ')}: run scripts/ensure-node-packages.sh (apt-get install)`,
    );
  }
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = ((error as { stderr?: string }).stderr ?? '').trim();
    throw new NodeHostError(`${command} ${args.join(' ')} failed: ${stderr || String(error)}`);
  }
}

/** Runs a command and ignores failure (teardown of what may already be gone). */
function tryRun(command: string, args: string[]): void {
  spawnSync(command, args, { stdio: 'ignore' });
}

function slotOf(index: number): Slot {
  return {
    index,
    netns: `edgellm-${index}`,
    hostVeth: `elh-${index}`,
    nodeVeth: `eln-${index}`,
    hostIp: `10.222.${index}.1`,
    nodeIp: `10.222.${index}.2`,
    podCidr: `10.223.${index}.0/24`,
    runDir: join(SLOT_ROOT, String(index)),
    cgroup: `edgellm-${index}`,
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function readRecord(slot: Pick<Slot, 'runDir'>): SlotRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(slot.runDir, 'record.json'), 'utf8')) as SlotRecord;
  } catch {
    return undefined;
  }
}

export function writeRecord(slot: Pick<Slot, 'runDir'>, record: SlotRecord): void {
  writeFileSync(join(slot.runDir, 'record.json'), JSON.stringify(record));
}

/** Whether any address or route on the host already uses the slot's ranges. */
function rangesInUse(slot: Slot, routes: string): boolean {
  return routes.includes(`10.222.${slot.index}.`) || routes.includes(`10.223.${slot.index}.`);
}

/**
 * Claims a free slot: atomically creates its run directory. A slot whose owner process is gone
 * is cleaned up and reused.
 */
export function claimSlot(stateDir: string): Slot {
  mkdirSync(SLOT_ROOT, { recursive: true });
  const hostRoutes = (): string =>
    run('ip', ['-o', 'route', 'show']) + run('ip', ['-o', 'addr', 'show']);
  let routes = hostRoutes();
  for (let index = 1; index <= SLOTS; index += 1) {
    const slot = slotOf(index);
    const record = readRecord(slot);
    if (record !== undefined && !isAlive(record.ownerPid)) {
      console.warn(`edgellm: cleaning up test node ${slot.netns} left by a run that died`);
      releaseSlot(slot, record);
      routes = hostRoutes();
    }
    if (rangesInUse(slot, routes)) continue;
    try {
      mkdirSync(slot.runDir);
    } catch {
      continue; // another run holds it
    }
    writeRecord(slot, { ownerPid: process.pid, stateDir, pids: {} });
    return slot;
  }
  throw new NodeHostError(`all ${SLOTS} test node slots under ${SLOT_ROOT} are in use`);
}

/** The network namespace, the veth pair, the route to the pods, forwarding inside the node. */
export function createNetwork(slot: Slot): void {
  tryRun('ip', ['netns', 'del', slot.netns]);
  tryRun('ip', ['link', 'del', slot.hostVeth]);
  run('ip', ['netns', 'add', slot.netns]);
  run('ip', ['link', 'add', slot.hostVeth, 'type', 'veth', 'peer', 'name', slot.nodeVeth]);
  run('ip', ['link', 'set', slot.nodeVeth, 'netns', slot.netns]);
  run('ip', ['addr', 'add', `${slot.hostIp}/30`, 'dev', slot.hostVeth]);
  run('ip', ['link', 'set', slot.hostVeth, 'up']);
  const inNode = (args: string[]): string => run('ip', ['netns', 'exec', slot.netns, ...args]);
  inNode(['ip', 'addr', 'add', `${slot.nodeIp}/30`, 'dev', slot.nodeVeth]);
  inNode(['ip', 'link', 'set', slot.nodeVeth, 'up']);
  inNode(['ip', 'link', 'set', 'lo', 'up']);
  // Pods reach the API server (the host's end) through the node; the host reaches pod IPs. No
  // default route: nothing from a pod goes past this machine.
  inNode(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  run('ip', ['route', 'add', slot.podCidr, 'via', slot.nodeIp, 'dev', slot.hostVeth]);
}

const CGROUP_ROOT = '/sys/fs/cgroup';

function cgroupV2(): boolean {
  return existsSync(join(CGROUP_ROOT, 'cgroup.controllers'));
}

/**
 * The directories of the slot's cgroup: one per v1 hierarchy (with `unified`, the v2 tree of a
 * hybrid host, where runc adds its own), or one in the v2 tree.
 */
function cgroupDirs(slot: Slot, withUnified = false): string[] {
  if (cgroupV2()) return [join(CGROUP_ROOT, slot.cgroup)];
  return readdirSync(CGROUP_ROOT)
    .filter((h) => withUnified || h !== 'unified')
    .filter((h) => existsSync(join(CGROUP_ROOT, h, 'cgroup.procs')))
    .map((h) => join(CGROUP_ROOT, h, slot.cgroup));
}

/** The kubelet's cgroupRoot must exist in every hierarchy; a new v1 cpuset needs cpus and mems. */
export function createCgroup(slot: Slot): void {
  for (const dir of cgroupDirs(slot)) {
    mkdirSync(dir, { recursive: true });
    if (dir.includes('/cpuset/')) {
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        writeFileSync(join(dir, file), readFileSync(join(dir, '..', file)));
      }
    }
  }
  if (cgroupV2()) {
    const controllers = readFileSync(join(CGROUP_ROOT, 'cgroup.subtree_control'), 'utf8').trim();
    for (const c of controllers.split(/\s+/).filter(Boolean)) {
      tryRun('sh', [
        '-c',
        `echo +${c} > ${join(CGROUP_ROOT, slot.cgroup, 'cgroup.subtree_control')}`,
      ]);
    }
  }
}

/** Every process in the slot's cgroup tree (the pods' containers). */
function cgroupProcesses(slot: Slot): number[] {
  const pids = new Set<number>();
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) {
        if (line.trim() !== '') pids.add(Number(line));
      }
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(dir, entry.name));
      }
    } catch {
      // raced with removal
    }
  };
  for (const dir of cgroupDirs(slot, true)) walk(dir);
  return [...pids];
}

function removeCgroup(slot: Slot): void {
  const remove = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) remove(join(dir, entry.name));
    }
    try {
      rmdirSync(dir);
    } catch {
      // still busy; a later run retries
    }
  };
  for (const dir of cgroupDirs(slot, true)) remove(dir);
}

/** Processes whose command line mentions `text` (containerd's shims name its socket). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // exited
    }
  }
  return pids.filter((pid) => pid !== process.pid);
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Mount points under any of the prefixes, deepest first. */
function mountsUnder(prefixes: readonly string[]): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((p) => prefixes.some((prefix) => p === prefix || p.startsWith(`${prefix}/`)));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/**
 * Gives everything of a slot back, whatever state it is in: kills the processes of its record
 * and its cgroup, containerd's shims, unmounts what is mounted under its directories, deletes
 * its network namespace (its bridge, veths and iptables rules go with it) and its cgroup, and
 * removes its directories.
 */
export function releaseSlot(slot: Slot, record: SlotRecord | undefined): void {
  for (const pid of Object.values(record?.pids ?? {})) kill(pid, 'SIGKILL');
  for (const pid of cgroupProcesses(slot)) kill(pid, 'SIGKILL');
  for (const pid of processesMentioning(`${slot.runDir}/`)) kill(pid, 'SIGKILL');
  const dirs = [slot.runDir, ...(record ? [record.stateDir] : [])];
  for (const point of mountsUnder(dirs)) tryRun('umount', ['-l', point]);
  tryRun('ip', ['netns', 'del', slot.netns]);
  tryRun('ip', ['link', 'del', slot.hostVeth]);
  removeCgroup(slot);
  if (record) rmSync(record.stateDir, { recursive: true, force: true });
  rmSync(slot.runDir, { recursive: true, force: true });
}
