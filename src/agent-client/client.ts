// The typed AgentService client the operator (and tests, and the benchmark) use: mTLS
// credentials, a deadline on every call, promise-returning unary calls, and ExecuteBatch as an
// async iterable of events.
import {
  credentials as grpcCredentials,
  Metadata,
  type CallOptions,
  type ChannelCredentials,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  AgentServiceClient,
  type CancelBatchRequest,
  type CancelBatchResponse,
  type CancelGenerationRequest,
  type CancelGenerationResponse,
  type ExecuteBatchRequest,
  type ExecuteBatchResponse,
  type GetBatchRequest,
  type GetBatchResponse,
  type GetInfoResponse,
  type GetProfileRequest,
  type GetProfileResponse,
  type LoadModelRequest,
  type LoadModelResponse,
  type UnloadModelRequest,
  type UnloadModelResponse,
} from '../gen/edgellm/agent/v1/agent.js';

export const CLIENT_DEFAULTS = {
  /** Deadline of unary calls. */
  unarySeconds: 30,
  /** Deadline of a whole ExecuteBatch stream. */
  streamSeconds: 600,
} as const;

/**
 * Channel keepalive: ping every 10 s, also between calls, and fail the connection (and its
 * streams, with UNAVAILABLE) when a ping goes unanswered for 5 s. A frozen or unreachable agent
 * is noticed in about 15 s instead of at the stream's deadline.
 */
export const CLIENT_KEEPALIVE = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
} as const;

/** How to reach an agent: mTLS material (PEM) or, for local development only, plain text. */
export type AgentTls =
  | {
      readonly ca: Buffer;
      readonly cert?: Buffer;
      readonly key?: Buffer;
      /** Expected server name when it differs from the address host (e.g. `localhost`). */
      readonly serverName?: string;
    }
  | { readonly insecure: true };

export interface AgentClientOptions {
  /** host:port */
  readonly address: string;
  readonly tls: AgentTls;
  readonly unarySeconds?: number;
  readonly streamSeconds?: number;
}

function deadline(seconds: number): Date {
  return new Date(Date.now() + seconds * 1000);
}

/** A typed agent client; close() when done. */
export class AgentClient {
  readonly raw: AgentServiceClient;
  /** host:port this client talks to. */
  readonly address: string;
  private readonly unarySeconds: number;
  private readonly streamSeconds: number;

  constructor(options: AgentClientOptions) {
    let creds: ChannelCredentials;
    const channelOptions: Record<string, string | number> = { ...CLIENT_KEEPALIVE };
    if ('insecure' in options.tls) creds = grpcCredentials.createInsecure();
    else {
      creds = grpcCredentials.createSsl(
        options.tls.ca,
        options.tls.key ?? null,
        options.tls.cert ?? null,
      );
      if (options.tls.serverName !== undefined)
        channelOptions['grpc.ssl_target_name_override'] = options.tls.serverName;
    }
    this.address = options.address;
    this.raw = new AgentServiceClient(options.address, creds, channelOptions);
    this.unarySeconds = options.unarySeconds ?? CLIENT_DEFAULTS.unarySeconds;
    this.streamSeconds = options.streamSeconds ?? CLIENT_DEFAULTS.streamSeconds;
  }

  private unary<Res>(
    invoke: (
      metadata: Metadata,
      options: Partial<CallOptions>,
      callback: (error: ServiceError | null, response: Res) => void,
    ) => unknown,
    seconds: number | undefined,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      invoke(
        new Metadata(),
        { deadline: deadline(seconds ?? this.unarySeconds) },
        (error, response) => {
          if (error) reject(error);
          else resolve(response);
        },
      );
    });
  }

  getInfo(seconds?: number): Promise<GetInfoResponse> {
    return this.unary((m, o, cb) => this.raw.getInfo({}, m, o, cb), seconds);
  }
  getProfile(request: GetProfileRequest, seconds?: number): Promise<GetProfileResponse> {
    return this.unary((m, o, cb) => this.raw.getProfile(request, m, o, cb), seconds);
  }
  loadModel(request: LoadModelRequest, seconds?: number): Promise<LoadModelResponse> {
    return this.unary((m, o, cb) => this.raw.loadModel(request, m, o, cb), seconds);
  }
  unloadModel(request: UnloadModelRequest, seconds?: number): Promise<UnloadModelResponse> {
    return this.unary((m, o, cb) => this.raw.unloadModel(request, m, o, cb), seconds);
  }
  getBatch(request: GetBatchRequest, seconds?: number): Promise<GetBatchResponse> {
    return this.unary((m, o, cb) => this.raw.getBatch(request, m, o, cb), seconds);
  }
  cancelBatch(request: CancelBatchRequest, seconds?: number): Promise<CancelBatchResponse> {
    return this.unary((m, o, cb) => this.raw.cancelBatch(request, m, o, cb), seconds);
  }
  cancelGeneration(
    request: CancelGenerationRequest,
    seconds?: number,
  ): Promise<CancelGenerationResponse> {
    return this.unary((m, o, cb) => this.raw.cancelGeneration(request, m, o, cb), seconds);
  }

  /**
   * ExecuteBatch as an async iterable of its events (accepted, tokens, results, summary).
   * The iteration throws the call's ServiceError when the batch is rejected or fails;
   * breaking out of the loop cancels the call (the batch keeps running on the agent).
   */
  executeBatch(
    request: ExecuteBatchRequest,
    seconds?: number,
  ): AsyncIterable<ExecuteBatchResponse> & {
    readonly call: ClientReadableStream<ExecuteBatchResponse>;
  } {
    const call = this.raw.executeBatch(request, new Metadata(), {
      deadline: deadline(seconds ?? this.streamSeconds),
    });
    return {
      call,
      [Symbol.asyncIterator]: async function* () {
        try {
          for await (const event of call as AsyncIterable<ExecuteBatchResponse>) yield event;
        } finally {
          call.cancel();
        }
      },
    };
  }

  close(): void {
    this.raw.close();
  }
}

/** Collects a whole ExecuteBatch stream. */
export async function collectBatch(
  events: AsyncIterable<ExecuteBatchResponse>,
): Promise<ExecuteBatchResponse[]> {
  const out: ExecuteBatchResponse[] = [];
  for await (const event of events) out.push(event);
  return out;
}
