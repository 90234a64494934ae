// The AgentService handlers: translate gRPC calls to the catalog and the executor, and every
// failure to its precise status (counted in edgellm_agent_errors_total).
import { freemem, totalmem } from 'node:os';
import type {
  sendUnaryData,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceError,
} from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  ProfilePhase,
  type AgentServiceServer,
  type ExecuteBatchRequest,
  type ExecuteBatchResponse,
  type LatencyProfile as ProtoProfile,
} from '../gen/edgellm/agent/v1/agent.js';
import { PROFILE_PHASE, type LatencyProfile } from '../core/model/profile.js';
import type { InferenceRuntime } from '../runtime/types.js';
import { authorizeClient } from './client-identity.js';
import { codeName, failedPrecondition, invalidArgument, notFound, toStatus } from './errors.js';
import type { BatchExecutor } from './executor.js';
import type { AgentMetrics } from './metrics.js';
import type { ModelCatalog } from './models.js';
import type { ProfileStore } from './profile-store.js';

export interface ServiceDeps {
  readonly runtime: InferenceRuntime;
  readonly catalog: ModelCatalog;
  readonly executor: BatchExecutor;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  readonly profiles: ProfileStore;
  readonly version: string;
  /** Client identities served (tls.allowedClients); empty serves any certificate the CA signed. */
  readonly allowedClients?: readonly string[];
}

function serviceError(err: unknown): Partial<ServiceError> {
  const { code, message } = toStatus(err);
  return { code, details: message, message, metadata: new Metadata() };
}

export function createAgentService(deps: ServiceDeps): AgentServiceServer {
  const { runtime, catalog, executor, metrics, logger, profiles } = deps;
  const allowedClients = deps.allowedClients ?? [];

  const failed = (method: string, err: unknown): Partial<ServiceError> => {
    const status = toStatus(err);
    metrics.errors.inc({ method, code: codeName(status.code) });
    logger.warn({ method, code: codeName(status.code), err: status.message }, 'call failed');
    return serviceError(err);
  };

  /** Wraps a unary handler: resolves the callback with its value or its error's status. */
  const unary =
    <Req, Res>(method: string, handler: (request: Req) => Promise<Res> | Res) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      Promise.resolve()
        .then(() => {
          authorizeClient(allowedClients, call.getAuthContext());
          return handler(call.request);
        })
        .then(
          (response) => {
            callback(null, response);
          },
          (err: unknown) => {
            callback(failed(method, err));
          },
        );
    };

  return {
    getInfo: unary('GetInfo', () => {
      const caps = runtime.capabilities();
      return {
        agentVersion: deps.version,
        capabilities: {
          partialModelExecution: caps.partialModelExecution,
          accelerator: caps.accelerator,
          threads: caps.threads,
        },
        models: catalog.variants(),
        memoryTotalBytes: totalmem(),
        memoryFreeBytes: freemem(),
        queueLength: executor.queueLength(),
      };
    }),

    getProfile: unary('GetProfile', ({ model }: { model: string }) => {
      if (model !== '' && catalog.configured(model) === undefined)
        throw notFound(`model ${model} is not configured on this agent`);
      const selected = [...profiles.values()].filter((p) => model === '' || p.model === model);
      if (model !== '' && selected.length === 0)
        throw failedPrecondition(
          `model ${model} has no measured profile yet; start the agent with calibrateOnStart: true or run batches on it first`,
        );
      return { profiles: selected.map(toProtoProfile) };
    }),

    loadModel: unary('LoadModel', async ({ name }: { name: string }) => {
      if (name === '') throw invalidArgument('name is required');
      await catalog.load(name);
      return { model: catalog.variant(name) };
    }),

    unloadModel: unary('UnloadModel', async ({ name }: { name: string }) => {
      if (name === '') throw invalidArgument('name is required');
      executor.assertIdle(name);
      await catalog.unload(name);
      return {};
    }),

    getBatch: unary('GetBatch', ({ batchId }: { batchId: string }) => {
      if (batchId === '') throw invalidArgument('batch_id is required');
      executor.touch(batchId);
      const record = executor.get(batchId);
      if (!record)
        throw notFound(
          `batch ${batchId} is not known to this agent (never submitted, or evicted from the finished-batch cache)`,
        );
      return {
        batchId,
        model: record.model,
        state: record.state,
        requestCount: record.requests.length,
        results: [...record.results],
        summary: record.summary,
      };
    }),

    cancelBatch: unary('CancelBatch', ({ batchId }: { batchId: string }) => {
      if (batchId === '') throw invalidArgument('batch_id is required');
      const state = executor.cancel(batchId);
      logger.info({ batchId }, 'batch cancel requested');
      return { state };
    }),

    cancelGeneration: unary(
      'CancelGeneration',
      ({ batchId, requestId }: { batchId: string; requestId: string }) => {
        if (batchId === '') throw invalidArgument('batch_id is required');
        if (requestId === '') throw invalidArgument('request_id is required');
        return { cancelled: executor.cancelGeneration(batchId, requestId) };
      },
    ),

    executeBatch: (call: ServerWritableStream<ExecuteBatchRequest, ExecuteBatchResponse>): void => {
      const request = call.request;
      const log = logger.child({ batchId: request.batchId, model: request.model });
      Promise.resolve()
        .then(() => {
          authorizeClient(allowedClients, call.getAuthContext());
          return executor.submit(request);
        })
        .then(
          ({ record, attached }) => {
            log.info({ attached, requests: request.requests.length }, 'ExecuteBatch accepted');
            call.write({
              event: {
                $case: 'accepted',
                value: { batchId: record.batchId, attached, queuePosition: record.queuePosition },
              },
            });
            let open = true;
            const unsubscribe = record.subscribe({
              event: (event) => {
                if (open) call.write(event);
              },
              end: (failure) => {
                if (!open) return;
                open = false;
                if (failure) call.emit('error', failed('ExecuteBatch', failure));
                else call.end();
              },
            });
            call.on('cancelled', () => {
              // The caller went away: detach it; the batch keeps running (CancelBatch stops it).
              open = false;
              unsubscribe();
              log.info('ExecuteBatch caller detached');
            });
          },
          (err: unknown) => {
            call.emit('error', failed('ExecuteBatch', err));
          },
        );
    },
  };
}

function toProtoProfile(p: LatencyProfile): ProtoProfile {
  return {
    model: p.model,
    quantization: p.quantization,
    threads: p.threads,
    samples: p.samples.map((s) => ({
      phase:
        s.phase === PROFILE_PHASE.prefill
          ? ProfilePhase.PROFILE_PHASE_PREFILL
          : ProfilePhase.PROFILE_PHASE_DECODE,
      batchSize: s.batchSize,
      contextTokens: s.contextTokens,
      seconds: s.seconds,
    })),
    ...(p.perplexity !== undefined ? { perplexity: p.perplexity } : {}),
  };
}
