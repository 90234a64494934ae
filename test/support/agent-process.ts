// Runs `edgellm agent` as a separate process (the built CLI), as a node would: tests can stop it
// with SIGTERM (drains) or SIGKILL (an agent that dies mid-batch).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface LogLine {
  msg?: string;
  address?: string;
  /** host:port of /metrics (on the 'agent serving' line). */
  metrics?: string;
  batchId?: string;
  requestId?: string;
  finishReason?: string;
  /** How the agent keeps llama.cpp's threads (on the 'agent serving' line). */
  threadPool?: string;
  threadPoolDetail?: string;
}

export interface AgentProcess {
  readonly proc: ChildProcess;
  /** host:port of its gRPC server. */
  readonly address: string;
  /** host:port of its /metrics, /healthz and /readyz, when the config enables them. */
  readonly metricsAddress: string | undefined;
  readonly lines: LogLine[];
  /** Resolves with the exit code once the process exited. */
  readonly exited: Promise<number | null>;
}

/** Spawns the built CLI's agent with these arguments; resolves once it logs that it serves. */
export async function startAgentProcess(
  args: readonly string[],
  /** Its environment: this process's, with these variables set (undefined: removed). */
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<AgentProcess> {
  const childEnv = Object.fromEntries(
    Object.entries({ ...process.env, ...env }).filter(([, value]) => value !== undefined),
  );
  const proc = spawn(process.execPath, ['dist/src/cli/main.js', 'agent', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: childEnv,
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', resolve);
  });
  const lines: LogLine[] = [];
  const serving = await new Promise<LogLine>((resolve, reject) => {
    void exited.then((code) => {
      reject(new Error(`agent exited early with ${String(code)}`));
    });
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as LogLine;
      lines.push(entry);
      if (entry.msg === 'agent serving' && entry.address) resolve(entry);
    });
  });
  return {
    proc,
    address: serving.address ?? '',
    metricsAddress: serving.metrics,
    lines,
    exited,
  };
}

/**
 * How many times the agent ran each request, from its own log ('request finished' lines carry the
 * request id): the agent-side count of executions, independent of any status the operator wrote.
 */
export function executionsByRequest(agents: readonly AgentProcess[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const agent of agents)
    for (const line of agent.lines)
      if (line.msg === 'request finished' && line.requestId !== undefined)
        counts.set(line.requestId, (counts.get(line.requestId) ?? 0) + 1);
  return counts;
}

/** Writes a plain-text agent config serving `models` (name -> GGUF path) into `dir`. */
export async function writeAgentConfig(
  dir: string,
  file: string,
  models: Readonly<Record<string, string>>,
  options: {
    readonly maxSequences?: number;
    readonly quantization?: string;
    /** Context tokens of each model, shared by its sequences (default 4096). */
    readonly contextTokens?: number;
    /** Serve /metrics and the probes on a free port. */
    readonly metrics?: boolean;
  } = {},
): Promise<string> {
  const path = join(dir, file);
  await writeFile(
    path,
    [
      'listen: 127.0.0.1:0',
      `metricsListen: ${options.metrics === true ? '127.0.0.1:0' : 'false'}`,
      'tls: {insecure: true}',
      'models:',
      ...Object.entries(models).map(
        ([name, p]) =>
          `  - {name: ${name}, quantization: ${options.quantization ?? 'F32'}, path: ${p}, contextTokens: ${options.contextTokens ?? 4096}, maxSequences: ${options.maxSequences ?? 8}}`,
      ),
      'threads: 1',
      'calibrateOnStart: true',
      '',
    ].join('\n'),
  );
  return path;
}
