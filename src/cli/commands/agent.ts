// `edgellm agent --config agent.yaml`: runs the node agent until SIGTERM/SIGINT, then drains.
import type { Command } from 'commander';
import { pino } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { Agent, type Calibrate } from '../../agent/agent.js';
import {
  loadAgentConfig,
  parseModelFlag,
  type AgentConfig,
  type AgentModelConfigInput,
} from '../../agent/config.js';
import { sizeAgentThreadPool } from '../../agent/thread-pool.js';
import { agentVersion } from '../../agent/version.js';
import { CALIBRATION_PLANS, calibrate, loadCalibrationText } from '../../agent/calibration.js';
import { SimulatedRuntime } from '../../runtime/simulated.js';
import type { InferenceRuntime } from '../../runtime/types.js';

interface AgentFlags {
  readonly config: string;
  readonly insecureDev?: boolean;
  readonly simulate?: boolean;
  readonly model: readonly AgentModelConfigInput[];
}

export function register(program: Command): void {
  program
    .command('agent')
    .description(
      'Run the node agent: serves the edgellm.agent.v1 gRPC API (mTLS) and /metrics for the configured GGUF models',
    )
    .requiredOption('-c, --config <file>', 'agent config (YAML or JSON), see deploy/agent/')
    .option(
      '--insecure-dev',
      'serve plain-text gRPC without client certificates (local development only)',
    )
    .option(
      '--simulate',
      'run the simulated runtime instead of llama.cpp: no model files are read, each batch takes ' +
        'the time of a small CPU model (benchmarks and demos of the operator at scale)',
    )
    .option(
      '--model <key=value,...>',
      "serve one more model besides the config's: name=...,quantization=...,path=..." +
        '[,contextTokens=N][,maxSequences=N] (repeatable; the LLM pods the operator makes use it)',
      (value: string, previous: AgentModelConfigInput[]) => [...previous, parseModelFlag(value)],
      [],
    )
    .action(async (flags: AgentFlags) => {
      // Before the config is read: libuv sizes its pool at its first use.
      sizeAgentThreadPool();
      const loaded = await loadAgentConfig(flags.config, flags.model);
      const config: AgentConfig = flags.insecureDev
        ? { ...loaded, tls: { insecure: true } }
        : loaded;
      await runAgent(config, { simulate: flags.simulate === true });
    });
}

/** Starts the agent and resolves once a signal has shut it down. */
export async function runAgent(
  config: AgentConfig,
  options: { readonly simulate?: boolean } = {},
): Promise<void> {
  const logger = pino({ name: 'edgellm-agent', level: config.logLevel });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let runtime: InferenceRuntime;
  let calibrateModel: Calibrate;
  if (options.simulate === true) {
    const simulated = new SimulatedRuntime(config.threads > 0 ? { threads: config.threads } : {});
    runtime = simulated;
    calibrateModel = (_runtime, model) => Promise.resolve(simulated.profile(model.name));
  } else {
    // Loaded only here: the operator image ships without node-llama-cpp (deploy/images/images.json).
    const { createLlamaRuntime } = await import('../../runtime/llama.js');
    const llama = await createLlamaRuntime({
      ...(config.threads > 0 ? { threads: config.threads } : {}),
      log: (level, message) => {
        logger.debug({ level, source: 'llama.cpp' }, message);
      },
    });
    runtime = llama;
    // Quick plan at start-up (seconds on a small model); perplexity on data/calibration.txt.
    calibrateModel = async (_runtime, model) =>
      calibrate(llama, model.name, await loadCalibrationText(), CALIBRATION_PLANS.quick);
  }
  const agent = await Agent.start({
    config,
    runtime,
    logger,
    registry,
    version: agentVersion(),
    calibrate: calibrateModel,
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'signal received');
      agent.shutdown().then(resolve, (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
