// Starts and stops the test control plane: one edgellm-controlplane process (embedded etcd +
// kube-apiserver, built from Go modules by test/controlplane/build.sh) per test run, on free
// loopback ports, in its own process group, with a pid file so a run that crashed before
// stopping it has its leftover cleaned by the next run.
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
  etcdUrl: string;
  kubeconfigs: Record<Identity, string>;
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
): Promise<RunningControlPlane> {
  cleanStale();
  const dir = mkdtempSync(join(tmpdir(), 'edgellm-cp-'));
  const logPath = join(dir, 'controlplane.log');
  const statePath = join(dir, 'controlplane.json');
  const log = openSync(logPath, 'a');
  const started = performance.now();
  const child = spawn(binary, ['--dir', dir, '--exit-on-stdin-eof'], {
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
  killGroup(pid, 'SIGTERM');
  const deadline = performance.now() + ControlPlaneDefaults.stopTimeoutSeconds * 1000;
  while (isAlive(pid) && isControlPlane(pid) && performance.now() < deadline) {
    await sleep(ControlPlaneDefaults.readyPollMilliseconds);
  }
  stopByPid(pid, cp.dir);
  console.log(`edgellm: control plane stopped (peak RSS ${mib(peakRssBytes)} MiB)`);
}
