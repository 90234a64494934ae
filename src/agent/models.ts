// The model catalog: the configured variants, which of them the runtime has loaded, and
// loading/unloading with metrics and logs.
import type { Logger } from 'pino';
import type { ModelVariant } from '../gen/edgellm/agent/v1/agent.js';
import type { InferenceRuntime, LoadedModel } from '../runtime/types.js';
import type { AgentModelConfig } from './config.js';
import { notFound } from './errors.js';
import type { AgentMetrics } from './metrics.js';
import type { ModelAdmission } from './validation.js';

export class ModelCatalog {
  private readonly configs: ReadonlyMap<string, AgentModelConfig>;
  private readonly loading = new Map<string, Promise<LoadedModel>>();

  constructor(
    private readonly runtime: InferenceRuntime,
    models: readonly AgentModelConfig[],
    private readonly metrics: AgentMetrics,
    private readonly logger: Logger,
  ) {
    this.configs = new Map(models.map((m) => [m.name, m]));
  }

  configured(name: string): AgentModelConfig | undefined {
    return this.configs.get(name);
  }

  names(): string[] {
    return [...this.configs.keys()];
  }

  loaded(name: string): LoadedModel | undefined {
    return this.runtime.loadedModels().find((m) => m.name === name);
  }

  admission(name: string): ModelAdmission {
    const config = this.configs.get(name);
    const loaded = this.loaded(name);
    const maxSequences = loaded?.maxSequences ?? config?.maxSequences ?? 0;
    const contextTokens = loaded?.contextTokens ?? config?.contextTokens ?? 0;
    return {
      configured: config !== undefined,
      loaded: loaded !== undefined,
      maxSequences,
      sequenceTokens: maxSequences > 0 ? Math.floor(contextTokens / maxSequences) : 0,
    };
  }

  /** Loads a configured model (no-op when loaded; concurrent calls share one load). */
  async load(name: string): Promise<LoadedModel> {
    const config = this.configs.get(name);
    if (config === undefined)
      throw notFound(`model ${name} is not configured on this agent; add it to the agent config`);
    const loaded = this.loaded(name);
    if (loaded) return loaded;
    const pending = this.loading.get(name);
    if (pending) return pending;
    const promise = (async () => {
      this.logger.info({ model: name, path: config.path }, 'loading model');
      const model = await this.runtime.loadModel({
        name: config.name,
        quantization: config.quantization,
        path: config.path,
        contextTokens: config.contextTokens,
        maxSequences: config.maxSequences,
      });
      this.metrics.modelLoadSeconds.set({ model: name }, model.loadSeconds);
      this.logger.info(
        { model: name, loadSeconds: model.loadSeconds, fileBytes: model.fileBytes },
        'model loaded',
      );
      return model;
    })();
    this.loading.set(name, promise);
    try {
      return await promise;
    } finally {
      this.loading.delete(name);
    }
  }

  async unload(name: string): Promise<void> {
    if (!this.configs.has(name)) throw notFound(`model ${name} is not configured on this agent`);
    if (!this.loaded(name)) return;
    await this.runtime.unloadModel(name);
    this.logger.info({ model: name }, 'model unloaded');
  }

  variant(name: string): ModelVariant {
    const config = this.configs.get(name);
    if (config === undefined) throw notFound(`model ${name} is not configured on this agent`);
    const loaded = this.loaded(name);
    return {
      name,
      quantization: config.quantization,
      path: config.path,
      loaded: loaded !== undefined,
      contextTokens: loaded?.contextTokens ?? config.contextTokens,
      maxSequences: loaded?.maxSequences ?? config.maxSequences,
      fileBytes: loaded?.fileBytes ?? 0,
      layers: loaded?.layers ?? 0,
      hiddenSize: loaded?.hiddenSize ?? 0,
      parameters: loaded?.parameters ?? 0,
      loadSeconds: loaded?.loadSeconds ?? 0,
      sequenceContextTokens: this.admission(name).sequenceTokens,
    };
  }

  variants(): ModelVariant[] {
    return this.names().map((n) => this.variant(n));
  }
}
