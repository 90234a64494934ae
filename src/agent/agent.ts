// The agent process: loads the configured models, serves AgentService + grpc.health.v1 on one
// port (mTLS unless insecure is explicitly configured), serves /metrics, and shuts down
// gracefully (stop accepting, drain the running batch within a bound, exit).
import { Server } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { LatencyProfile } from '../core/model/profile.js';
import { AgentServiceService } from '../gen/edgellm/agent/v1/agent.js';
import type { InferenceRuntime, LoadedModel } from '../runtime/types.js';
import type { AgentConfig } from './config.js';
import { BatchExecutor } from './executor.js';
import { AgentMetrics } from './metrics.js';
import { startMetricsServer, type MetricsServer } from '../telemetry/metrics-server.js';
import { ModelCatalog } from './models.js';
import { ProfileStore } from './profile-store.js';
import { createAgentService } from './service.js';
import { serverCredentials } from './tls.js';

/** Server keepalive: ping an idle connection every 10 s, drop it when a ping is unanswered 5 s. */
export const AGENT_KEEPALIVE = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
} as const;

/** The service name health checks report on, besides the overall '' status. */
export const AGENT_SERVICE_NAME = 'edgellm.agent.v1.AgentService';

/** Measures a model's latency profile (and perplexity); see src/agent/calibration.ts. */
export type Calibrate = (runtime: InferenceRuntime, model: LoadedModel) => Promise<LatencyProfile>;

export interface AgentOptions {
  readonly config: AgentConfig;
  readonly runtime: InferenceRuntime;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly version: string;
  readonly calibrate?: Calibrate;
}

export class Agent {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly options: AgentOptions,
    private readonly server: Server,
    private readonly health: HealthImplementation,
    readonly executor: BatchExecutor,
    readonly profiles: ProfileStore,
    private readonly metricsServer: MetricsServer | undefined,
    /** host:port the gRPC server is bound to. */
    readonly address: string,
    private readonly lifecycle: { draining: boolean },
  ) {}

  /** host:port of /metrics, when enabled. */
  get metricsAddress(): string | undefined {
    return this.metricsServer?.address;
  }

  static async start(options: AgentOptions): Promise<Agent> {
    const { config, runtime, logger, registry } = options;
    const metrics = new AgentMetrics(registry);
    const catalog = new ModelCatalog(runtime, config.models, metrics, logger);
    // GetProfile serves each model's start-up calibration refined by the batches it runs.
    const profiles = new ProfileStore(runtime);
    const executor = new BatchExecutor({
      runtime,
      catalog,
      metrics,
      logger,
      cacheSize: config.batchCacheSize,
      orphanGraceSeconds: config.orphanGraceSeconds,
      onBatchObserved: (model, observation) => {
        profiles.observe(model, observation);
      },
    });
    for (const model of config.models) if (model.preload) await catalog.load(model.name);
    if (config.calibrateOnStart && options.calibrate) {
      for (const model of runtime.loadedModels()) {
        logger.info({ model: model.name }, 'calibrating');
        const profile = await options.calibrate(runtime, model);
        profiles.set(model.name, profile);
        logger.info(
          { model: model.name, samples: profile.samples.length, perplexity: profile.perplexity },
          'calibrated',
        );
      }
    }

    // Keepalive both ways: a dead or frozen caller's streams end within about 15 s (the executor
    // then counts its batches orphaned), and the operator's pings every 10 s are welcome.
    const server = new Server(AGENT_KEEPALIVE);
    server.addService(
      AgentServiceService,
      createAgentService({
        runtime,
        catalog,
        executor,
        metrics,
        logger,
        profiles,
        version: options.version,
        allowedClients: 'allowedClients' in config.tls ? config.tls.allowedClients : [],
      }),
    );
    const health = new HealthImplementation({ '': 'SERVING', [AGENT_SERVICE_NAME]: 'SERVING' });
    health.addToServer(server);
    const credentials = await serverCredentials(config.tls, logger);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(config.listen, credentials, (err, bound) => {
        if (err) reject(new Error(`cannot listen on ${config.listen}: ${err.message}`));
        else resolve(bound);
      });
    });
    const host = config.listen.slice(0, config.listen.lastIndexOf(':'));
    const address = `${host}:${port}`;
    let metricsServer: MetricsServer | undefined;
    const lifecycle = { draining: false };
    if (config.metricsListen !== false) {
      const i = config.metricsListen.lastIndexOf(':');
      // HTTP probes for the kubelet (its gRPC probe cannot speak mTLS): /healthz while the process
      // serves, /readyz while it takes batches (a model loaded, not draining).
      metricsServer = await startMetricsServer(
        registry,
        config.metricsListen.slice(0, i).replace(/^\[|\]$/g, ''),
        Number(config.metricsListen.slice(i + 1)),
        {
          '/healthz': () => undefined,
          '/readyz': () =>
            lifecycle.draining
              ? 'draining: shutting down'
              : runtime.loadedModels().length === 0
                ? 'no model loaded'
                : undefined,
        },
      );
    }
    const { threadPool, threadPoolDetail } = runtime.capabilities();
    logger.info(
      {
        address,
        metrics: metricsServer?.address,
        mtls: 'caFile' in config.tls,
        models: runtime.loadedModels().map((m) => m.name),
        threadPool,
        threadPoolDetail,
      },
      'agent serving',
    );
    return new Agent(
      options,
      server,
      health,
      executor,
      profiles,
      metricsServer,
      address,
      lifecycle,
    );
  }

  /**
   * Graceful shutdown: health goes NOT_SERVING, new calls are refused, queued batches are
   * cancelled, the running batch finishes (aborted after `shutdownGraceSeconds`), streams end,
   * then the servers close and the runtime is disposed. Idempotent.
   */
  shutdown(): Promise<void> {
    this.stopping ??= this.doShutdown();
    return this.stopping;
  }

  private async doShutdown(): Promise<void> {
    const { logger, config, runtime } = this.options;
    logger.info({ graceSeconds: config.shutdownGraceSeconds }, 'agent shutting down: draining');
    this.lifecycle.draining = true;
    this.health.setStatus('', 'NOT_SERVING');
    this.health.setStatus(AGENT_SERVICE_NAME, 'NOT_SERVING');
    const serverClosed = new Promise<void>((resolve) => {
      this.server.tryShutdown(() => {
        resolve();
      });
    });
    await this.executor.drain(config.shutdownGraceSeconds);
    // Streams of finished batches end on their own once their last events are written; give
    // them time to (on a loaded CPU, 2 s cut a drained batch's summary off: a flaky test showed
    // it), then force what still hangs (a client that stopped reading).
    const forced = setTimeout(() => {
      this.server.forceShutdown();
    }, 10_000);
    await serverClosed;
    clearTimeout(forced);
    await this.metricsServer?.close();
    await runtime.dispose();
    logger.info('agent stopped');
  }
}
