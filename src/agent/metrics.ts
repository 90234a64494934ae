// The agent's Prometheus metrics, registered on a registry the caller passes in.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class AgentMetrics {
  readonly tokensGenerated: Counter<'model'>;
  readonly promptTokens: Counter<'model'>;
  readonly batches: Counter<'model' | 'state'>;
  readonly batchSize: Histogram<'model'>;
  readonly prefillSeconds: Histogram<'model'>;
  readonly decodeSeconds: Histogram<'model'>;
  readonly queueLength: Gauge<'model'>;
  readonly modelLoadSeconds: Gauge<'model'>;
  readonly errors: Counter<'method' | 'code'>;
  readonly rejectedRequests: Counter<'model'>;
  readonly cancelledRequests: Counter<'model'>;
  readonly orphanedBatches: Counter<'model'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.tokensGenerated = new Counter({
      name: 'edgellm_agent_tokens_generated_total',
      help: 'Tokens generated (completion tokens), by model.',
      labelNames: ['model'],
      registers,
    });
    this.promptTokens = new Counter({
      name: 'edgellm_agent_prompt_tokens_total',
      help: 'Prompt tokens evaluated, by model.',
      labelNames: ['model'],
      registers,
    });
    this.batches = new Counter({
      name: 'edgellm_agent_batches_total',
      help: 'Batches finished, by model and final state.',
      labelNames: ['model', 'state'],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'edgellm_agent_batch_size',
      help: 'Requests per executed batch.',
      labelNames: ['model'],
      buckets: BATCH_SIZE_BUCKETS,
      registers,
    });
    this.prefillSeconds = new Histogram({
      name: 'edgellm_agent_prefill_duration_seconds',
      help: 'Wall time of evaluating the prompts of a batch together.',
      labelNames: ['model'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.decodeSeconds = new Histogram({
      name: 'edgellm_agent_decode_duration_seconds',
      help: 'Wall time of all decode steps of a batch.',
      labelNames: ['model'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.queueLength = new Gauge({
      name: 'edgellm_agent_queue_length',
      help: 'Batches queued or running, by model.',
      labelNames: ['model'],
      registers,
    });
    this.modelLoadSeconds = new Gauge({
      name: 'edgellm_agent_model_load_seconds',
      help: 'Seconds the last load of each model took.',
      labelNames: ['model'],
      registers,
    });
    this.errors = new Counter({
      name: 'edgellm_agent_errors_total',
      help: 'Calls that failed, by gRPC method and status code.',
      labelNames: ['method', 'code'],
      registers,
    });
    this.rejectedRequests = new Counter({
      name: 'edgellm_agent_rejected_requests_total',
      help: 'Requests rejected alone at admission (they do not fit one sequence), by model.',
      labelNames: ['model'],
      registers,
    });
    this.cancelledRequests = new Counter({
      name: 'edgellm_agent_cancelled_requests_total',
      help: 'Requests cancelled alone (CancelGeneration) while their batch ran on, by model.',
      labelNames: ['model'],
      registers,
    });
    this.orphanedBatches = new Counter({
      name: 'edgellm_agent_orphaned_batches_total',
      help: 'Batches cancelled because no caller followed them for the orphan grace period.',
      labelNames: ['model'],
      registers,
    });
  }
}
