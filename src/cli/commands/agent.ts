// `edgellm agent --config agent.yaml`: runs the node agent until SIGTERM/SIGINT, then drains.
import type { Command } from 'commander';
import { pino } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { Agent } from '../../agent/agent.js';
import { loadAgentConfig, type AgentConfig } from '../../agent/config.js';
import { agentVersion } from '../../agent/version.js';
import { CALIBRATION_PLANS, calibrate, loadCalibrationText } from '../../agent/calibration.js';
import { createLlamaRuntime } from '../../runtime/llama.js';

interface AgentFlags {
  readonly config: string;
  readonly insecureDev?: boolean;
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
    .action(async (flags: AgentFlags) => {
      const loaded = await loadAgentConfig(flags.config);
      const config: AgentConfig = flags.insecureDev
        ? { ...loaded, tls: { insecure: true } }
        : loaded;
      await runAgent(config);
    });
}

/** Starts the agent and resolves once a signal has shut it down. */
export async function runAgent(config: AgentConfig): Promise<void> {
  const logger = pino({ name: 'edgellm-agent', level: config.logLevel });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const runtime = await createLlamaRuntime({
    ...(config.threads > 0 ? { threads: config.threads } : {}),
    log: (level, message) => {
      logger.debug({ level, source: 'llama.cpp' }, message);
    },
  });
  const agent = await Agent.start({
    config,
    runtime,
    logger,
    registry,
    version: agentVersion(),
    // Quick plan at start-up (seconds on a small model); perplexity on data/calibration.txt.
    calibrate: async (_runtime, model) =>
      calibrate(runtime, model.name, await loadCalibrationText(), CALIBRATION_PLANS.quick),
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
