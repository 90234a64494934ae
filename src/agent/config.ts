// The agent's configuration file (YAML or JSON, `edgellm agent --config agent.yaml`),
// validated with zod. Relative file paths are resolved against the config file's folder.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UserInputError } from '../util/user-error.js';
import { parseWith } from '../util/validation.js';

/** Defaults of the agent, in one place. */
export const AGENT_DEFAULTS = {
  listen: '127.0.0.1:50051',
  metricsListen: '127.0.0.1:9464',
  contextTokens: 2048,
  maxSequences: 8,
  /** Finished batches kept for replay and GetBatch. */
  batchCacheSize: 256,
  /** Longest the agent waits for the running batch on SIGTERM before aborting it. */
  shutdownGraceSeconds: 30,
  /** A batch no caller follows (no stream, no GetBatch) for this long is cancelled: its caller
   *  gave up on it. Shorter than the operator's reattach window (25 s), so a batch the operator
   *  re-dispatches elsewhere has been cancelled here first. */
  orphanGraceSeconds: 20,
  /** Longest prompt accepted, in characters (the token check against the context follows). */
  maxPromptChars: 1_000_000,
  /** Most tokens one request may ask for. */
  maxTokensLimit: 65_536,
} as const;

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port, e.g. 0.0.0.0:50051');

export const agentModelSchema = z.strictObject({
  name: z.string().min(1).max(253),
  quantization: z.string().min(1).max(32),
  path: z.string().min(1),
  contextTokens: z.number().int().min(64).max(1_048_576).default(AGENT_DEFAULTS.contextTokens),
  maxSequences: z.number().int().min(1).max(256).default(AGENT_DEFAULTS.maxSequences),
  /** Load at start (default) or only on LoadModel. */
  preload: z.boolean().default(true),
});

export const agentTlsSchema = z.union([
  z.strictObject({
    insecure: z.literal(true),
  }),
  z.strictObject({
    insecure: z.literal(false).optional(),
    /** PEM CA bundle; only clients whose certificate it signed are served. */
    caFile: z.string().min(1),
    certFile: z.string().min(1),
    keyFile: z.string().min(1),
    /**
     * Client identities served (the certificate's common name or a DNS name in its subject
     * alternative names), e.g. the operator's. Empty: any certificate the CA signed.
     */
    allowedClients: z.array(z.string().min(1).max(253)).max(64).default([]),
  }),
]);

export const agentConfigSchema = z
  .strictObject({
    listen: hostPort.default(AGENT_DEFAULTS.listen),
    /** host:port for GET /metrics; `false` turns the endpoint off. */
    metricsListen: z.union([hostPort, z.literal(false)]).default(AGENT_DEFAULTS.metricsListen),
    tls: agentTlsSchema,
    models: z.array(agentModelSchema).min(1),
    /** Runtime threads; 0 lets the runtime choose. */
    threads: z.number().int().min(0).max(1024).default(0),
    calibrateOnStart: z.boolean().default(false),
    batchCacheSize: z.number().int().min(1).max(100_000).default(AGENT_DEFAULTS.batchCacheSize),
    shutdownGraceSeconds: z
      .number()
      .positive()
      .max(3600)
      .default(AGENT_DEFAULTS.shutdownGraceSeconds),
    orphanGraceSeconds: z.number().min(0).max(86_400).default(AGENT_DEFAULTS.orphanGraceSeconds),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.models.forEach((model, i) => {
      if (seen.has(model.name))
        ctx.addIssue({
          code: 'custom',
          path: ['models', i, 'name'],
          message: `duplicate model name ${model.name}`,
        });
      seen.add(model.name);
    });
  });

export type AgentConfig = z.output<typeof agentConfigSchema>;
export type AgentModelConfig = AgentConfig['models'][number];
export type AgentConfigInput = z.input<typeof agentConfigSchema>;

export type AgentModelConfigInput = z.input<typeof agentModelSchema>;

/**
 * One model from the agent's `--model` flag: comma-separated key=value pairs of a `models` entry,
 * e.g. `name=smollm2-q4_1,quantization=Q4_1,path=/cache/abc.gguf,maxSequences=8`.
 */
export function parseModelFlag(flag: string): AgentModelConfigInput {
  const entry: Record<string, string | number | boolean> = {};
  for (const pair of flag.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new UserInputError(
        `--model ${flag}: expected key=value pairs separated by commas (name=...,quantization=...,path=...)`,
      );
    }
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    entry[key] =
      key === 'contextTokens' || key === 'maxSequences'
        ? Number(value)
        : key === 'preload'
          ? value === 'true'
          : value;
  }
  return entry as AgentModelConfigInput;
}

/**
 * Reads, parses (YAML, which includes JSON) and validates an agent config file; `extraModels`
 * (the `--model` flags) are appended to its `models`, which the file may then leave out.
 */
export async function loadAgentConfig(
  path: string,
  extraModels: readonly AgentModelConfigInput[] = [],
): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserInputError(`cannot read agent config ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new UserInputError(`${path} is not valid YAML/JSON: ${(err as Error).message}`);
  }
  if (extraModels.length > 0) {
    const base = (value ?? {}) as { models?: unknown };
    const models = Array.isArray(base.models) ? (base.models as unknown[]) : [];
    value = { ...base, models: [...models, ...extraModels] };
  }
  return resolvePaths(parseWith(agentConfigSchema, value, `agent config ${path}`), dirname(path));
}

/** Makes relative model and TLS paths absolute against `baseDir`. */
export function resolvePaths(config: AgentConfig, baseDir: string): AgentConfig {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  return {
    ...config,
    models: config.models.map((m) => ({ ...m, path: abs(m.path) })),
    tls:
      'caFile' in config.tls
        ? {
            ...config.tls,
            caFile: abs(config.tls.caFile),
            certFile: abs(config.tls.certFile),
            keyFile: abs(config.tls.keyFile),
          }
        : config.tls,
  };
}
