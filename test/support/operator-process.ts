// Runs `edgellm operator` as a separate process (the built CLI), as a pod would: tests can kill it
// with SIGKILL (a crashed leader) or stop it with SIGTERM. POD_NAME sets its Lease identity.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export interface OperatorProcess {
  readonly proc: ChildProcess;
  /** Its Lease identity (POD_NAME). */
  readonly identity: string;
  readonly exited: Promise<number | null>;
}

export interface OperatorProcessOptions {
  readonly identity: string;
  readonly kubeconfig: string;
  /** Namespace of the Lease, the agent pods and the requests it serves. */
  readonly namespace: string;
  readonly leaseDurationSeconds?: number;
  /** Where its JSON log lines go (appended). */
  readonly logFile: string;
  /** Outputs longer than this spill into a ConfigMap/Secret (--max-status-output-chars). */
  readonly maxStatusOutputChars?: number;
  /** --running-status-delay-seconds (the operator's default when unset). */
  readonly runningStatusDelaySeconds?: number;
}

export function startOperatorProcess(options: OperatorProcessOptions): OperatorProcess {
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const proc = spawn(
    process.execPath,
    [
      'dist/src/cli/main.js',
      'operator',
      '--kubeconfig',
      options.kubeconfig,
      '--metrics-listen',
      '127.0.0.1:0',
      '--lease-namespace',
      options.namespace,
      '--agent-namespace',
      options.namespace,
      '--watch-namespaces',
      options.namespace,
      '--lease-duration-seconds',
      String(options.leaseDurationSeconds ?? 4),
      '--log-level',
      'info',
      ...(options.maxStatusOutputChars === undefined
        ? []
        : ['--max-status-output-chars', String(options.maxStatusOutputChars)]),
      ...(options.runningStatusDelaySeconds === undefined
        ? []
        : ['--running-status-delay-seconds', String(options.runningStatusDelaySeconds)]),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, POD_NAME: options.identity } },
  );
  proc.stdout.pipe(log);
  proc.stderr.pipe(log);
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', resolve);
  });
  return { proc, identity: options.identity, exited };
}

/** SIGKILL, then wait until it is gone. */
export async function killOperator(op: OperatorProcess): Promise<void> {
  op.proc.kill('SIGKILL');
  await op.exited;
}
