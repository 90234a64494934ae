// Starts and stops the test control plane: one edgellm-controlplane process (embedded etcd +
// kube-apiserver, built from Go modules by test/controlplane/build.sh) per test run, on free
// loopback ports, in its own process group, with a pid file so a run that crashed before
// stopping it has its leftover cleaned by the next run. Installs the CRDs.
//
// Its default export is the jest global setup of the `integration` project (jest.config.js).
// Jest loads global setup outside its module system (as native ESM with Node's type stripping,
// or as CommonJS on older Node), where `.js` specifiers of sibling .ts files do not resolve, so
// this module imports only packages and uses only erasable TypeScript syntax. Tests use
// cluster.ts, which builds on it.
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';

/** Set by the jest global setup for the test workers: the path of controlplane.json. */
export const STATE_ENV = 'EDGELLM_CONTROLPLANE_STATE';

/**
 * The repository root: the nearest directory at or above the working directory (jest's rootDir
 * when run by make) that holds test/controlplane/. Not import.meta: jest loads its global setup
 * as CommonJS.
 */
export const repoRoot = findRepoRoot(process.cwd());

function findRepoRoot(start: string): string {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'test', 'controlplane', 'go.mod'))) return dir;
    if (dirname(dir) === dir) {
      throw new Error(
        `no edgellm checkout (test/controlplane/go.mod) at or above ${start}; run from the repository`,
      );
    }
  }
}

/** Client-certificate identities the control plane trusts (see test/controlplane/main.go). */
export const Identity = {
  /** edgellm-admin in system:masters: RBAC allows everything. */
  admin: 'admin',
  /** edgellm-operator (group edgellm:operators): only what Roles grant. */
  operator: 'operator',
  /** edgellm-agent (group edgellm:agents): only what Roles grant. */
  agent: 'agent',
} as const;
export type Identity = (typeof Identity)[keyof typeof Identity];

/** What the binary writes to <dir>/controlplane.json. */
export interface ControlPlaneState {
  pid: number;
  server: string;
  caFile: string;
  /** PKI files by name (ca.crt, ca.key, sa.key, ...). */
  files: Record<string, string>;
  /** The Service IP range (the `kubernetes` Service has its first address). */
  serviceCidr?: string;
  /** The node this control plane serves (--node-name), if any. */
  nodeName?: string;
  etcdUrl: string;
  /** That etcd's space quota (--etcd-quota-bytes; 0: etcd's default, 2 GiB). */
  etcdQuotaBytes?: number;
  /**
   * The second etcd of --separate-etcd-for (a project's `globals.edgellmControlPlaneArgs`):
   * kube-apiserver stores these resources there (`/configmaps`: group/resource), with this quota.
   */
  separateEtcd?: { url: string; resources: string[]; quotaBytes: number };
  /** By identity; a control plane started with --node-name also has the node's components. */
  kubeconfigs: Record<Identity, string> & Record<string, string>;
  identities: { name: Identity; user: string; groups: string[] }[];
}

export interface RunningControlPlane {
  state: ControlPlaneState;
  /** The state directory (certificates, etcd data, kubeconfigs, controlplane.log). */
  dir: string;
  statePath: string;
  logPath: string;
  startupSeconds: number;
  rssBytes: number;
}

export const ControlPlaneDefaults = {
  readyTimeoutSeconds: 180,
  readyPollMilliseconds: 100,
  stopTimeoutSeconds: 15,
  logTailBytes: 4000,
} as const;

const BINARY_NAME = 'edgellm-controlplane';
const pidDir = join(repoRoot, '.cache', 'controlplane', 'pids');

/** The error thrown when the control plane cannot be built or started; says what to do. */
export class ControlPlaneError extends Error {
  override name = 'ControlPlaneError';
}

/** Builds the binary unless it is cached (test/controlplane/build.sh) and returns its path. */
export function ensureBinary(): string {
  const result = spawnSync(join(repoRoot, 'test', 'controlplane', 'build.sh'), {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const path = result.stdout.trim();
  if (result.status !== 0 || path === '' || !existsSync(path)) {
    throw new ControlPlaneError(
      `building the test control plane failed (exit ${String(result.status)}); run test/controlplane/build.sh to see why (it needs Go >= 1.26 and the Go module proxy)`,
    );
  }
  return path;
}

interface PidRecord {
  pid: number;
  ownerPid: number;
  dir: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function isControlPlane(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(BINARY_NAME);
  } catch {
    return false;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Removes control planes left by runs that died without stopping theirs: a pid file whose owner
 * process is gone. Control planes of runs still alive (another jest in this checkout) are kept.
 */
export function cleanStale(): void {
  if (!existsSync(pidDir)) return;
  for (const file of readdirSync(pidDir)) {
    const path = join(pidDir, file);
    let record: PidRecord;
    try {
      record = JSON.parse(readFileSync(path, 'utf8')) as PidRecord;
    } catch {
      rmSync(path, { force: true });
      continue;
    }
    if (isAlive(record.ownerPid)) continue;
    if (isAlive(record.pid) && isControlPlane(record.pid)) {
      console.warn(`edgellm: stopping a control plane left by a crashed run (pid ${record.pid})`);
      killGroup(record.pid, 'SIGKILL');
    }
    rmSync(record.dir, { recursive: true, force: true });
    rmSync(path, { force: true });
  }
}

function get(url: string, ca: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function readProcStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return match?.[1] === undefined ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

function logTail(logPath: string): string {
  try {
    const text = readFileSync(logPath, 'utf8');
    return text.slice(-ControlPlaneDefaults.logTailBytes);
  } catch {
    return '(no log)';
  }
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);

/**
 * Starts the control plane and resolves once /readyz answers 200. The process lives in its own
 * process group, reads nothing but watches its stdin: when this process dies, the pipe closes
 * and the control plane shuts itself down.
 */
export async function startControlPlane(
  binary: string = ensureBinary(),
  /** More edgellm-controlplane flags (the node harness: --address, --node-name). */
  args: readonly string[] = [],
): Promise<RunningControlPlane> {
  cleanStale();
  const dir = mkdtempSync(join(tmpdir(), 'edgellm-cp-'));
  const logPath = join(dir, 'controlplane.log');
  const statePath = join(dir, 'controlplane.json');
  const log = openSync(logPath, 'a');
  const started = performance.now();
  const child = spawn(binary, ['--dir', dir, '--exit-on-stdin-eof', ...args], {
    detached: true,
    stdio: ['pipe', log, log],
  });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw new ControlPlaneError(`could not start ${binary}`);
  }
  mkdirSync(pidDir, { recursive: true });
  const record: PidRecord = { pid, ownerPid: process.pid, dir };
  writeFileSync(join(pidDir, `${pid}.json`), JSON.stringify(record));
  // Do not keep jest alive for the child's sake; it is stopped explicitly.
  child.unref();
  let exited: string | undefined;
  child.on('exit', (code, signal) => {
    exited = `exited with ${signal ?? String(code)}`;
  });

  const deadline = started + ControlPlaneDefaults.readyTimeoutSeconds * 1000;
  let state: ControlPlaneState | undefined;
  let ca: Buffer | undefined;
  for (;;) {
    if (exited !== undefined) {
      stopByPid(pid, dir);
      throw new ControlPlaneError(
        `the control plane ${exited} before it was ready; its log:\n${logTail(logPath)}`,
      );
    }
    if (performance.now() > deadline) {
      const tail = logTail(logPath);
      stopByPid(pid, dir);
      throw new ControlPlaneError(
        `the control plane was not ready after ${ControlPlaneDefaults.readyTimeoutSeconds}s; its log:\n${tail}`,
      );
    }
    if (state === undefined && existsSync(statePath)) {
      state = JSON.parse(readFileSync(statePath, 'utf8')) as ControlPlaneState;
      ca = readFileSync(state.caFile);
    }
    if (state !== undefined && ca !== undefined) {
      const status = await get(`${state.server}/readyz`, ca).catch(() => 0);
      if (status === 200) break;
    }
    await sleep(ControlPlaneDefaults.readyPollMilliseconds);
  }
  const startupSeconds = (performance.now() - started) / 1000;
  const rssBytes = readProcStatusBytes(pid, 'VmRSS');
  console.log(
    `edgellm: control plane ready in ${startupSeconds.toFixed(1)}s, RSS ${mib(rssBytes)} MiB, ${state.server} (pid ${pid}, log ${logPath})`,
  );
  return { state, dir, statePath, logPath, startupSeconds, rssBytes };
}

/** Synchronous hard stop: for process exit handlers and failed starts. */
export function stopByPid(pid: number, dir: string): void {
  killGroup(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(pidDir, `${pid}.json`), { force: true });
}

/** Stops the control plane: SIGTERM to its process group, SIGKILL if it lingers; removes its files. */
export async function stopControlPlane(cp: RunningControlPlane): Promise<void> {
  const { pid } = cp.state;
  const peakRssBytes = readProcStatusBytes(pid, 'VmHWM');
  const stopping = performance.now();
  killGroup(pid, 'SIGTERM');
  const deadline = performance.now() + ControlPlaneDefaults.stopTimeoutSeconds * 1000;
  while (isAlive(pid) && isControlPlane(pid) && performance.now() < deadline) {
    await sleep(ControlPlaneDefaults.readyPollMilliseconds);
  }
  stopByPid(pid, cp.dir);
  console.log(
    `edgellm: control plane stopped in ${((performance.now() - stopping) / 1000).toFixed(1)}s (peak RSS ${mib(peakRssBytes)} MiB)`,
  );
}

/** Field manager for objects the harness applies. */
export const FIELD_MANAGER = 'edgellm-test';

export function kubeConfigFor(state: ControlPlaneState, identity: Identity): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(state.kubeconfigs[identity]);
  return kc;
}

/** The Kubernetes API's explanation of a failed request (Status.message), else the error text. */
export function serverMessage(error: unknown): string {
  if (error instanceof k8s.ApiException) {
    const body: unknown = error.body;
    if (typeof body === 'string') {
      try {
        const status = JSON.parse(body) as { message?: unknown };
        if (typeof status.message === 'string') return status.message;
      } catch {
        return body;
      }
      return body;
    }
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

// CustomResourceDefinitions: crds/*.yaml, installed when that folder exists.

export const CrdDefaults = {
  establishTimeoutSeconds: 30,
  pollMilliseconds: 100,
} as const;

export const CRD_DIR = join(repoRoot, 'crds');

/** Applies the CRDs in the given YAML (server-side apply) and waits until each is Established. */
export async function applyCrds(
  kc: k8s.KubeConfig,
  yaml: string,
  source: string,
): Promise<string[]> {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const names: string[] = [];
  for (const doc of k8s.loadAllYaml(yaml) as (k8s.KubernetesObject | null)[]) {
    if (doc === null) continue;
    try {
      await objects.patch(
        doc,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        k8s.PatchStrategy.ServerSideApply,
      );
    } catch (error) {
      throw new ControlPlaneError(
        `${source}: ${doc.kind ?? '?'}/${doc.metadata?.name ?? '?'} rejected: ${serverMessage(error)}`,
      );
    }
    if (doc.kind === 'CustomResourceDefinition' && doc.metadata?.name !== undefined)
      names.push(doc.metadata.name);
  }
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  for (const name of names) {
    const deadline = performance.now() + CrdDefaults.establishTimeoutSeconds * 1000;
    for (;;) {
      const crd = await ext.readCustomResourceDefinition({ name });
      if (
        crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ===
        true
      )
        break;
      if (performance.now() > deadline) {
        throw new ControlPlaneError(
          `CRD ${name} from ${source} was not Established after ${CrdDefaults.establishTimeoutSeconds}s`,
        );
      }
      await sleep(CrdDefaults.pollMilliseconds);
    }
  }
  return names;
}

/** Installs every crds/*.yaml file; a checkout without crds/ installs nothing. */
export async function installCrds(kc: k8s.KubeConfig, dir: string = CRD_DIR): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const names: string[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    const path = join(dir, file);
    names.push(...(await applyCrds(kc, readFileSync(path, 'utf8'), path)));
  }
  return names;
}

function chartRules(file: string): k8s.V1PolicyRule[] {
  return k8s.loadYaml<k8s.V1PolicyRule[]>(
    readFileSync(join(repoRoot, 'charts/edgellm/files/rbac', file), 'utf8'),
  );
}

/**
 * Binds the chart's operator rules (charts/edgellm/files/rbac/*.yaml, the one source of the
 * operator's RBAC) to the operator identity the way the chart does, under names starting with
 * `name`: the cluster rules cluster-wide; the request rules cluster-wide, or in each of
 * `watchNamespaces` when given; the namespace rules in `namespace` (the operator's own: Leases,
 * agent pods, TLS Secrets). An operator running as that identity has exactly what the chart grants.
 */
export async function bindOperatorRules(
  state: ControlPlaneState,
  name: string,
  namespace: string,
  watchNamespaces: readonly string[] = [],
  /** Whom to bind (default: the operator identity); a fresh name keeps a test's RBAC its own. */
  subjectUser?: string,
  /** Optional cluster-wide rule files the chart binds when a feature is on (node-sync-rules.yaml). */
  optionalClusterRules: readonly string[] = [],
): Promise<void> {
  const user = subjectUser ?? state.identities.find((i) => i.name === Identity.operator)?.user;
  if (user === undefined) throw new ControlPlaneError('the control plane has no operator identity');
  const rbac = kubeConfigFor(state, Identity.admin).makeApiClient(k8s.RbacAuthorizationV1Api);
  const subjects = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }];
  const clusterRole = async (role: string, rules: k8s.V1PolicyRule[]): Promise<void> => {
    await rbac.createClusterRole({ body: { metadata: { name: role }, rules } });
  };
  const clusterBinding = async (role: string): Promise<void> => {
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: role },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects,
      },
    });
  };
  await clusterRole(name, chartRules('cluster-rules.yaml'));
  await clusterBinding(name);
  for (const [i, file] of optionalClusterRules.entries()) {
    await clusterRole(`${name}-optional-${i}`, chartRules(file));
    await clusterBinding(`${name}-optional-${i}`);
  }
  await clusterRole(`${name}-requests`, chartRules('request-rules.yaml'));
  if (watchNamespaces.length === 0) await clusterBinding(`${name}-requests`);
  for (const ns of watchNamespaces)
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: `${name}-requests` },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: `${name}-requests`,
        },
        subjects,
      },
    });
  await rbac.createNamespacedRole({
    namespace,
    body: { metadata: { name }, rules: chartRules('namespace-rules.yaml') },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects,
    },
  });
}

declare global {
  /** Set by globalSetup, called by global-teardown.ts (same process, no imports there). */
  var edgellmStopControlPlane: (() => Promise<void>) | undefined;
}

/**
 * Jest global setup: starts one control plane for the whole run, installs the CRDs and tells
 * the test workers where it is through EDGELLM_CONTROLPLANE_STATE. Jest runs it only when at
 * least one selected test belongs to the project. A project's `globals.edgellmControlPlaneArgs`
 * (jest.config.js) adds edgellm-controlplane flags: the chaos project's ConfigMaps and Secrets
 * live in an etcd of their own that a scenario fills.
 */
export default async function globalSetup(
  _globalConfig?: unknown,
  projectConfig?: { globals?: Record<string, unknown> },
): Promise<void> {
  const extra = projectConfig?.globals?.['edgellmControlPlaneArgs'];
  const args = Array.isArray(extra) ? extra.map(String) : [];
  const cp = await startControlPlane(ensureBinary(), args);
  let running = true;
  const stop = async (): Promise<void> => {
    if (!running) return;
    running = false;
    await stopControlPlane(cp);
  };
  globalThis.edgellmStopControlPlane = stop;
  // A crash or an interrupted run skips the teardown: stop the process group on the way out.
  process.once('exit', () => {
    if (running) stopByPid(cp.state.pid, cp.dir);
  });
  process.env[STATE_ENV] = cp.statePath;
  try {
    const crds = await installCrds(kubeConfigFor(cp.state, Identity.admin));
    if (crds.length > 0) console.log(`edgellm: installed CRDs ${crds.join(', ')}`);
  } catch (error) {
    await stop();
    throw error;
  }
}
