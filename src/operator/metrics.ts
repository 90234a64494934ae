// The operator's Prometheus metrics (names fixed by CONTRACT.md), registered on a registry the
// caller passes in. Controller metrics are recorded by src/operator/kube/ (work queue, informer,
// controller loop, leader election); domain metrics by the reconcilers.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { REQUEST_REASON } from './api/constants.js';

/** The reasons admission control sheds a request with. */
const SHED_REASONS = [REQUEST_REASON.queueFull, REQUEST_REASON.overloaded] as const;

/** Seconds buckets for reconcile and work-queue durations (1 ms .. 60 s). */
export const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;
/** Seconds buckets for the solver (0.1 ms .. 10 s). */
export const SOLVE_BUCKETS = [
  0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
] as const;
/** Seconds buckets for request latency (10 ms .. 10 min). */
export const LATENCY_BUCKETS = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600,
] as const;
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256] as const;

export const RECONCILE_RESULT = {
  success: 'success',
  error: 'error',
  requeue: 'requeue',
} as const;
export type ReconcileResult = (typeof RECONCILE_RESULT)[keyof typeof RECONCILE_RESULT];

export interface OperatorMetrics {
  // Controller metrics.
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrorsTotal: Counter<'controller'>;
  readonly reconcileDurationSeconds: Histogram<'controller'>;
  readonly workqueueDepth: Gauge<'name'>;
  readonly workqueueAddsTotal: Counter<'name'>;
  readonly workqueueRetriesTotal: Counter<'name'>;
  readonly workqueueQueueDurationSeconds: Histogram<'name'>;
  readonly workqueueWorkDurationSeconds: Histogram<'name'>;
  readonly informerRestartsTotal: Counter<'resource'>;
  readonly leader: Gauge<'lease'>;
  // Domain metrics.
  readonly solveDurationSeconds: Histogram<'node' | 'policy'>;
  readonly treeNodesEvaluatedTotal: Counter<'node'>;
  readonly treeNodesPrunedTotal: Counter<'node' | 'rule'>;
  readonly batchSize: Histogram<'node'>;
  readonly requests: Gauge<'namespace' | 'phase'>;
  readonly requestsCompletedTotal: Counter<'node' | 'phase' | 'reason'>;
  readonly requestLatencySeconds: Histogram<'node' | 'kind'>;
  readonly requestSlaTotal: Counter<'node' | 'result'>;
  readonly requestsShedTotal: Counter<'reason'>;
  readonly eventsDroppedTotal: Counter<'reason'>;
  readonly requestStatusWritesTotal: Counter<'phase'>;
  readonly requestStatusWritesSupersededTotal: Counter;
  readonly nodeTokensPerSecond: Gauge<'node'>;
  readonly nodeQueueLength: Gauge<'node'>;
  readonly nodeReady: Gauge<'node'>;
  // The OpenAI-compatible endpoint.
  readonly openaiRequestsTotal: Counter<'endpoint' | 'code'>;
  readonly openaiInFlight: Gauge<'endpoint'>;
  readonly openaiTimeToFirstTokenSeconds: Histogram<'model'>;
  readonly openaiTimePerOutputTokenSeconds: Histogram<'model'>;
  readonly openaiRejectedTotal: Counter<'reason'>;
  // Model placement and LLM pods.
  readonly placementDurationSeconds: Histogram;
  readonly placementServedFraction: Gauge;
  readonly placementVariants: Gauge<'model' | 'quantization'>;
  readonly placementChangesTotal: Counter<'change'>;
  readonly llmPods: Gauge<'state'>;
  readonly modelFetchSeconds: Histogram<'result'>;
}

/** Seconds buckets for model fetches (0.1 s .. 1 h). */
export const FETCH_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600] as const;

/** Seconds buckets for time to first token (5 ms .. 60 s). */
export const TTFT_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60,
] as const;
/** Seconds buckets for time per output token (0.5 ms .. 2 s). */
export const TPOT_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2,
] as const;

export function createOperatorMetrics(registry: Registry): OperatorMetrics {
  const registers = [registry];
  const metrics: OperatorMetrics = {
    reconcileTotal: new Counter({
      name: 'edgellm_operator_reconcile_total',
      help: 'Reconciles finished, by controller and result (success, error, requeue).',
      labelNames: ['controller', 'result'],
      registers,
    }),
    reconcileErrorsTotal: new Counter({
      name: 'edgellm_operator_reconcile_errors_total',
      help: 'Reconciles that failed with an error, by controller.',
      labelNames: ['controller'],
      registers,
    }),
    reconcileDurationSeconds: new Histogram({
      name: 'edgellm_operator_reconcile_duration_seconds',
      help: 'Wall time of one reconcile, by controller.',
      labelNames: ['controller'],
      buckets: [...DURATION_BUCKETS],
      registers,
    }),
    workqueueDepth: new Gauge({
      name: 'edgellm_operator_workqueue_depth',
      help: 'Keys waiting in the work queue (not counting delayed or in-progress keys).',
      labelNames: ['name'],
      registers,
    }),
    workqueueAddsTotal: new Counter({
      name: 'edgellm_operator_workqueue_adds_total',
      help: 'Keys added to the work queue (including de-duplicated adds).',
      labelNames: ['name'],
      registers,
    }),
    workqueueRetriesTotal: new Counter({
      name: 'edgellm_operator_workqueue_retries_total',
      help: 'Rate-limited re-adds after a failed reconcile.',
      labelNames: ['name'],
      registers,
    }),
    workqueueQueueDurationSeconds: new Histogram({
      name: 'edgellm_operator_workqueue_queue_duration_seconds',
      help: 'Time a key waited in the queue before a worker took it.',
      labelNames: ['name'],
      buckets: [...DURATION_BUCKETS],
      registers,
    }),
    workqueueWorkDurationSeconds: new Histogram({
      name: 'edgellm_operator_workqueue_work_duration_seconds',
      help: 'Time a worker held a key (get to done).',
      labelNames: ['name'],
      buckets: [...DURATION_BUCKETS],
      registers,
    }),
    informerRestartsTotal: new Counter({
      name: 'edgellm_operator_informer_restarts_total',
      help: 'Informer restarts after a list or watch error, by resource.',
      labelNames: ['resource'],
      registers,
    }),
    leader: new Gauge({
      name: 'edgellm_operator_leader',
      help: '1 when this replica holds the lease, else 0.',
      labelNames: ['lease'],
      registers,
    }),
    solveDurationSeconds: new Histogram({
      name: 'edgellm_scheduler_solve_duration_seconds',
      help: 'Wall time of one scheduling solve (split planning and batch selection), by node and policy.',
      labelNames: ['node', 'policy'],
      buckets: [...SOLVE_BUCKETS],
      registers,
    }),
    treeNodesEvaluatedTotal: new Counter({
      name: 'edgellm_scheduler_tree_nodes_evaluated_total',
      help: 'Batches (search-tree nodes) the batch solver evaluated, by node (DFTSP tree nodes; the sweep counts cells and batches).',
      labelNames: ['node'],
      registers,
    }),
    treeNodesPrunedTotal: new Counter({
      name: 'edgellm_scheduler_tree_nodes_pruned_total',
      help: 'DFTSP search-tree nodes pruned, by node and pruning rule (0 under the sweep, which prunes cells, not tree nodes).',
      labelNames: ['node', 'rule'],
      registers,
    }),
    batchSize: new Histogram({
      name: 'edgellm_scheduler_batch_size',
      help: 'Requests per dispatched batch, by node.',
      labelNames: ['node'],
      buckets: [...BATCH_SIZE_BUCKETS],
      registers,
    }),
    requests: new Gauge({
      name: 'edgellm_requests',
      help: 'InferenceRequests by namespace and phase.',
      labelNames: ['namespace', 'phase'],
      registers,
    }),
    requestsCompletedTotal: new Counter({
      name: 'edgellm_requests_completed_total',
      help: 'InferenceRequests finished, by node, phase (Succeeded, Failed) and reason.',
      labelNames: ['node', 'phase', 'reason'],
      registers,
    }),
    requestLatencySeconds: new Histogram({
      name: 'edgellm_request_latency_seconds',
      help: 'Request latency by node and kind: queued (first seen by the operator to its batch dispatch), predicted (the cost model, batch dispatch to last token), measured (the same span as run), end_to_end (creation to last token).',
      labelNames: ['node', 'kind'],
      buckets: [...LATENCY_BUCKETS],
      registers,
    }),
    requestSlaTotal: new Counter({
      name: 'edgellm_request_sla_total',
      help: 'Finished requests by whether they met their latency budget (met, missed); attainment = met / (met + missed).',
      labelNames: ['node', 'result'],
      registers,
    }),
    requestsShedTotal: new Counter({
      name: 'edgellm_requests_shed_total',
      help: 'Requests admission control failed before they ran, by reason (QueueFull: more wait than --max-pending-per-node allows; Overloaded: the queue ahead outlasts their latency budget).',
      labelNames: ['reason'],
      registers,
    }),
    requestStatusWritesTotal: new Counter({
      name: 'edgellm_request_status_writes_total',
      help: 'InferenceRequest status writes the API server accepted, by the phase written (the operator writes two per request: Scheduled and its outcome, plus Running for generations longer than --running-status-delay-seconds).',
      labelNames: ['phase'],
      registers,
    }),
    requestStatusWritesSupersededTotal: new Counter({
      name: 'edgellm_request_status_writes_superseded_total',
      help: 'Status writes of a dispatch (Running, an outcome, a requeue) not made because the request had moved on: a newer leader requeued, re-dispatched or ended it, or its outcome was on record already.',
      registers,
    }),
    eventsDroppedTotal: new Counter({
      name: 'edgellm_events_dropped_total',
      help: 'Kubernetes Events not written because the operator was over its event rate (20/s, bursts of 200), by event reason.',
      labelNames: ['reason'],
      registers,
    }),
    nodeTokensPerSecond: new Gauge({
      name: 'edgellm_node_tokens_per_second',
      help: 'Completion tokens per second of the last batch, by node.',
      labelNames: ['node'],
      registers,
    }),
    nodeQueueLength: new Gauge({
      name: 'edgellm_node_queue_length',
      help: 'Batches waiting or running on the node agent, as it last reported.',
      labelNames: ['node'],
      registers,
    }),
    nodeReady: new Gauge({
      name: 'edgellm_node_ready',
      help: '1 when the EdgeNode is Ready, else 0.',
      labelNames: ['node'],
      registers,
    }),
    openaiRequestsTotal: new Counter({
      name: 'edgellm_openai_requests_total',
      help: 'Requests to the OpenAI-compatible endpoint, by endpoint (chat_completions, completions, models) and HTTP status code.',
      labelNames: ['endpoint', 'code'],
      registers,
    }),
    openaiInFlight: new Gauge({
      name: 'edgellm_openai_requests_in_flight',
      help: 'Completions accepted by the OpenAI-compatible endpoint and not yet answered, by endpoint.',
      labelNames: ['endpoint'],
      registers,
    }),
    openaiTimeToFirstTokenSeconds: new Histogram({
      name: 'edgellm_openai_time_to_first_token_seconds',
      help: 'From the request arriving to its first generated token, by model.',
      labelNames: ['model'],
      buckets: [...TTFT_BUCKETS],
      registers,
    }),
    openaiTimePerOutputTokenSeconds: new Histogram({
      name: 'edgellm_openai_time_per_output_token_seconds',
      help: 'Mean seconds per generated token after the first, by model (one observation per completion).',
      labelNames: ['model'],
      buckets: [...TPOT_BUCKETS],
      registers,
    }),
    openaiRejectedTotal: new Counter({
      name: 'edgellm_openai_rejected_total',
      help: 'Requests the endpoint turned away before scheduling, by reason (unauthorized, rate_limited, overloaded, no_leader, invalid).',
      labelNames: ['reason'],
      registers,
    }),
    placementDurationSeconds: new Histogram({
      name: 'edgellm_placement_duration_seconds',
      help: 'Time of one model placement decision (the exact branch and bound, docs/placement.md).',
      buckets: [...SOLVE_BUCKETS],
      registers,
    }),
    placementServedFraction: new Gauge({
      name: 'edgellm_placement_served_fraction',
      help: 'Fraction of the demand (FLOP/s) the current placement can serve, 0..1.',
      registers,
    }),
    placementVariants: new Gauge({
      name: 'edgellm_placement_variants',
      help: 'EdgeNodes the placement puts each model variant on.',
      labelNames: ['model', 'quantization'],
      registers,
    }),
    placementChangesTotal: new Counter({
      name: 'edgellm_placement_changes_total',
      help: 'Variants placement added to or removed from an EdgeNode (change: added, removed).',
      labelNames: ['change'],
      registers,
    }),
    llmPods: new Gauge({
      name: 'edgellm_llm_pods',
      help: 'LLM pods the operator made, by state (ready, starting, failing: a fetch failed).',
      labelNames: ['state'],
      registers,
    }),
    modelFetchSeconds: new Histogram({
      name: 'edgellm_model_fetch_seconds',
      help: "Time an LLM pod's init container took to put a model file in the node cache (result: downloaded, cached).",
      labelNames: ['result'],
      buckets: [...FETCH_BUCKETS],
      registers,
    }),
  };
  for (const change of ['added', 'removed']) metrics.placementChangesTotal.inc({ change }, 0);
  // Series that exist from the start at 0, so "nothing shed" is a 0 on the dashboard and rate()
  // sees the first one (the e2e's Prometheus found the panel empty).
  for (const reason of SHED_REASONS) metrics.requestsShedTotal.inc({ reason }, 0);
  return metrics;
}
