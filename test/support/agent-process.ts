// Runs `edgellm agent` as a separate process (the built CLI), as a node would: tests can stop it
// with SIGTERM (drains) or SIGKILL (an agent that dies mid-batch).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface LogLine {
  msg?: string;
  address?: string;
}

export interface AgentProcess {
  readonly proc: ChildProcess;
  /** host:port of its gRPC server. */
  readonly address: string;
  readonly lines: LogLine[];
  /** Resolves with the exit code once the process exited. */
  readonly exited: Promise<number | null>;
}

/** Spawns the built CLI's agent with these arguments; resolves once it logs that it serves. */
export async function startAgentProcess(args: readonly string[]): Promise<AgentProcess> {
  const proc = spawn(process.execPath, ['dist/src/cli/main.js', 'agent', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', resolve);
  });
  const lines: LogLine[] = [];
  const address = await new Promise<string>((resolve, reject) => {
    void exited.then((code) => {
      reject(new Error(`agent exited early with ${String(code)}`));
    });
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as LogLine;
      lines.push(entry);
      if (entry.msg === 'agent serving' && entry.address) resolve(entry.address);
    });
  });
  return { proc, address, lines, exited };
}

/** Writes a plain-text agent config serving `models` (name -> GGUF path) into `dir`. */
export async function writeAgentConfig(
  dir: string,
  file: string,
  models: Readonly<Record<string, string>>,
  options: { readonly maxSequences?: number; readonly quantization?: string } = {},
): Promise<string> {
  const path = join(dir, file);
  await writeFile(
    path,
    [
      'listen: 127.0.0.1:0',
      'metricsListen: false',
      'tls: {insecure: true}',
      'models:',
      ...Object.entries(models).map(
        ([name, p]) =>
          `  - {name: ${name}, quantization: ${options.quantization ?? 'F32'}, path: ${p}, contextTokens: 4096, maxSequences: ${options.maxSequences ?? 8}}`,
      ),
      'threads: 1',
      'calibrateOnStart: true',
      '',
    ].join('\n'),
  );
  return path;
}
