// The OpenAI-compatible endpoint: POST /v1/chat/completions, POST /v1/completions and
// GET /v1/models over HTTP(S). Served by every operator replica; the leader schedules (its
// completions join the same solver rounds as InferenceRequests, with no API write per request),
// followers forward to it (forward.ts). API keys from a Secret, per-key rate limits, a bounded
// queue; errors in OpenAI's shape; streaming as server-sent events ending with a usage chunk.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ZodError, z } from 'zod';
import type { RequestResult } from '../../gen/edgellm/agent/v1/agent.js';
import { formatIssues } from '../../util/validation.js';
import type { Clock } from '../kube/clock.js';
import type { OperatorMetrics } from '../metrics.js';
import { DurationError, parseDurationSeconds } from '../scheduling/duration.js';
import type { ApiKeyHolder, ApiKeys } from './api-keys.js';
import type { Completion, CompletionQueue, CompletionSpec } from './completion-queue.js';
import { boundsFor, type OpenAiDefaults } from './defaults.js';
import {
  invalidRequest,
  modelNotFound,
  notFound,
  OpenAiError,
  rateLimited,
  unauthorized,
  unavailable,
} from './errors.js';
import { forward, FORWARDED_HEADER, type ForwardTls } from './forward.js';
import { RateLimiter } from '../../util/rate-limit.js';
import {
  chunk,
  completionResponse,
  finishReasonOf,
  usageChunk,
  type Kind,
  type ResponseContext,
} from './responses.js';
import {
  chatCompletionRequestSchema,
  completionRequestSchema,
  type ChatCompletionRequest,
  type CompletionRequest,
} from './wire.js';

export const OPENAI_SERVER_DEFAULTS = {
  listen: '0.0.0.0:8000',
  /** Completions waiting for a round at most (more get 429). */
  maxPending: 256,
  /** Requests per second per API key (0: no limit), and the burst a key may use at once. */
  ratePerSecond: 20,
  burst: 40,
  /** Largest request body. */
  maxBodyBytes: 4 * 1024 * 1024,
  /** How long a follower waits for an unknown leader before answering 503. */
  leaderWaitMs: 5000,
} as const;

export const HEADERS = {
  latencyBudget: 'x-edgellm-latency-budget',
  maxPerplexityIncrease: 'x-edgellm-max-perplexity-increase',
} as const;

/** The leader's endpoint on the Lease, for followers to forward to. */
export const LEADER_ENDPOINT_ANNOTATION = 'edgellm.io/openai-endpoint';

export interface OpenAiServerOptions {
  readonly queue: CompletionQueue;
  readonly defaults: OpenAiDefaults;
  readonly log: Logger;
  readonly metrics: OperatorMetrics;
  readonly clock: Clock;
  /** API keys; undefined serves everyone (logged as a warning at start). */
  readonly apiKeys?: ApiKeys;
  readonly ratePerSecond?: number;
  readonly burst?: number;
  /** The models some EdgeNode serves (GET /v1/models, and 404 for any other). */
  readonly models: () => readonly string[];
  /** Whether this replica leads (schedules) now. */
  readonly isLeader: () => boolean;
  /** The leader's endpoint host:port, when a follower knows it. */
  readonly leaderEndpoint: () => string | undefined;
  /** PEM files: serve HTTPS. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json' }).end(text);
};

export class OpenAiServer {
  private server: Server | undefined;
  private readonly limiter: RateLimiter;
  private forwardTls: ForwardTls | undefined;
  private boundAddress = '';

  constructor(private readonly options: OpenAiServerOptions) {
    this.limiter = new RateLimiter(() => options.clock.now());
  }

  /** host:port bound. */
  get address(): string {
    return this.boundAddress;
  }

  async start(listen: string): Promise<void> {
    const { tls, log } = this.options;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((error: unknown) => {
        log.error({ err: error }, 'OpenAI endpoint request failed');
        if (!res.headersSent)
          json(res, 500, new OpenAiError(500, 'server_error', 'internal', 'internal error').body());
        else res.end();
      });
    };
    if (tls !== undefined) {
      const cert = readFileSync(tls.certFile);
      this.forwardTls = { fingerprint256: new X509Certificate(cert).fingerprint256 };
      this.server = createTlsServer({ cert, key: readFileSync(tls.keyFile) }, handler);
    } else this.server = createServer(handler);
    if (this.options.apiKeys === undefined)
      log.warn(
        'the OpenAI endpoint serves without API keys (no --openai-api-keys-secret); anyone who reaches it can use it',
      );
    const i = listen.lastIndexOf(':');
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(listen.slice(i + 1)), listen.slice(0, i).replace(/^\[|\]$/g, ''), () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address() as AddressInfo;
    this.boundAddress = `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
    log.info({ address: this.boundAddress, tls: tls !== undefined }, 'serving the OpenAI API');
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const route =
      req.method === 'POST' && path === '/v1/chat/completions'
        ? 'chat_completions'
        : req.method === 'POST' && path === '/v1/completions'
          ? 'completions'
          : req.method === 'GET' && path === '/v1/models'
            ? 'models'
            : undefined;
    const { metrics } = this.options;
    const answer = (status: number, body: unknown): void => {
      metrics.openaiRequestsTotal.inc({ endpoint: route ?? 'unknown', code: String(status) });
      json(res, status, body);
    };
    const refuse = (error: OpenAiError, reason?: string): void => {
      if (reason !== undefined) metrics.openaiRejectedTotal.inc({ reason });
      answer(error.status, error.body());
    };
    if (route === undefined) {
      refuse(
        notFound(
          `no route for ${req.method ?? ''} ${path}; try POST /v1/chat/completions, POST /v1/completions or GET /v1/models`,
        ),
      );
      return;
    }
    const holder = this.authenticate(req);
    if (holder instanceof OpenAiError) {
      refuse(holder, 'unauthorized');
      return;
    }
    const rate =
      holder.ratePerSecond ?? this.options.ratePerSecond ?? OPENAI_SERVER_DEFAULTS.ratePerSecond;
    const burst = Math.max(rate, this.options.burst ?? OPENAI_SERVER_DEFAULTS.burst);
    if (!this.limiter.take(holder.name, rate, burst)) {
      refuse(
        rateLimited(
          `API key ${holder.name} is over its rate limit of ${rate} requests per second; retry shortly`,
        ),
        'rate_limited',
      );
      return;
    }
    if (route === 'models') {
      const created = Math.floor(this.options.clock.now() / 1000);
      answer(200, {
        object: 'list',
        data: this.options
          .models()
          .map((id) => ({ id, object: 'model', created, owned_by: 'edgellm' })),
      });
      return;
    }
    const body = await readBody(req, OPENAI_SERVER_DEFAULTS.maxBodyBytes);
    if (body === undefined) {
      refuse(
        new OpenAiError(
          413,
          'invalid_request_error',
          'request_too_large',
          `the request body is over ${OPENAI_SERVER_DEFAULTS.maxBodyBytes} bytes`,
        ),
        'invalid',
      );
      return;
    }
    if (!this.options.isLeader()) {
      // During an election (or right after this replica started) the leader may be unknown for
      // a moment: wait for it a little rather than fail at once.
      const leader =
        req.headers[FORWARDED_HEADER] === undefined ? await this.awaitLeader() : undefined;
      if (!this.options.isLeader()) {
        if (leader === undefined) {
          refuse(
            unavailable(
              'no_leader',
              'no operator replica leads right now (an election is under way); retry in a few seconds',
            ),
            'no_leader',
          );
          return;
        }
        forward(req, body, res, leader, this.forwardTls, (error) => {
          if (!res.headersSent)
            refuse(
              unavailable(
                'no_leader',
                `the leader at ${leader} cannot be reached: ${error.message}; retry in a few seconds`,
              ),
              'no_leader',
            );
          else res.end();
        });
        return;
      }
      // This replica took the lead meanwhile: it serves the request itself.
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (error) {
      refuse(
        invalidRequest(`the request body is not JSON: ${(error as Error).message}`),
        'invalid',
      );
      return;
    }
    const kind: Kind = route === 'chat_completions' ? 'chat' : 'completion';
    const spec = this.specOf(kind, parsed, req);
    if (spec instanceof OpenAiError) {
      refuse(spec, spec.status === 404 ? undefined : 'invalid');
      return;
    }
    let completion: Completion;
    const stream = spec.stream;
    const sse = new SseAnswer(res, spec.model, kind, this.options.clock, metrics, route);
    try {
      completion = this.options.queue.submit(
        spec.completion,
        stream ? sse.streaming() : sse.whole(),
        kind === 'chat' ? 'chatcmpl' : 'cmpl',
      );
    } catch (error) {
      if (error instanceof OpenAiError) {
        refuse(error, 'overloaded');
        return;
      }
      throw error;
    }
    sse.begin(completion.id);
    // A caller that goes away cancels its completion: out of the queue, or its sequence stopped.
    res.on('close', () => {
      if (sse.finished) return;
      sse.abandoned();
      this.options.queue.cancel(completion);
    });
  }

  /** The leader's endpoint, waiting up to OPENAI_SERVER_DEFAULTS.leaderWaitMs for one. */
  private async awaitLeader(): Promise<string | undefined> {
    const deadline = this.options.clock.now() + OPENAI_SERVER_DEFAULTS.leaderWaitMs;
    for (;;) {
      const leader = this.options.leaderEndpoint();
      if (leader !== undefined || this.options.isLeader() || this.options.clock.now() >= deadline)
        return leader;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private authenticate(req: IncomingMessage): ApiKeyHolder | OpenAiError {
    const keys = this.options.apiKeys;
    if (keys === undefined) return { name: 'anonymous' };
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (match?.[1] === undefined)
      return unauthorized('missing API key: send the header Authorization: Bearer <key>');
    const holder = keys.check(match[1].trim());
    return holder ?? unauthorized('incorrect API key provided');
  }

  /** The validated completion of a request body, or the 400/404 to answer. */
  private specOf(
    kind: Kind,
    body: unknown,
    req: IncomingMessage,
  ): { completion: CompletionSpec; stream: boolean; model: string } | OpenAiError {
    const schema = kind === 'chat' ? chatCompletionRequestSchema : completionRequestSchema;
    const result = (schema as z.ZodType<ChatCompletionRequest | CompletionRequest>).safeParse(body);
    if (!result.success) return invalidRequest(formatIssues(result.error), firstPath(result.error));
    const r = result.data;
    if (!this.options.models().includes(r.model)) return modelNotFound(r.model);
    const header = (name: string): string | undefined => {
      const v = req.headers[name];
      return typeof v === 'string' && v !== '' ? v : undefined;
    };
    const headerIncrease = header(HEADERS.maxPerplexityIncrease);
    const increase =
      headerIncrease === undefined ? r.edgellm?.max_perplexity_increase : Number(headerIncrease);
    if (increase !== undefined && !(Number.isFinite(increase) && increase >= 0))
      return invalidRequest(
        `${HEADERS.maxPerplexityIncrease} must be a number >= 0`,
        'edgellm.max_perplexity_increase',
      );
    const bounds = boundsFor(this.options.defaults, r.model, {
      ...((header(HEADERS.latencyBudget) ?? r.edgellm?.latency_budget) === undefined
        ? {}
        : { latencyBudget: header(HEADERS.latencyBudget) ?? r.edgellm?.latency_budget ?? '' }),
      ...(increase === undefined ? {} : { maxPerplexityIncrease: increase }),
    });
    try {
      if (parseDurationSeconds(bounds.latencyBudget) <= 0)
        throw new DurationError('must be more than 0s');
    } catch (error) {
      if (!(error instanceof DurationError)) throw error;
      return invalidRequest(
        `latency budget ${bounds.latencyBudget}: ${error.message}`,
        'edgellm.latency_budget',
      );
    }
    const maxTokens =
      ('max_completion_tokens' in r ? r.max_completion_tokens : undefined) ?? r.max_tokens ?? 256;
    const completion: CompletionSpec = {
      model: r.model,
      ...('messages' in r
        ? {
            messages: r.messages.map((m) => ({
              role: m.role === 'developer' ? 'system' : m.role,
              content: m.content,
            })),
            prompt: '',
          }
        : { prompt: r.prompt }),
      maxTokens,
      temperature: r.temperature ?? 1,
      ...(r.top_p === null || r.top_p === undefined ? {} : { topP: r.top_p }),
      ...(r.seed === null || r.seed === undefined ? {} : { seed: r.seed }),
      stop: r.stop,
      latencyBudget: bounds.latencyBudget,
      maxPerplexityIncrease: bounds.maxPerplexityIncrease,
    };
    if (completion.prompt === '' && completion.messages === undefined)
      return invalidRequest('prompt is empty', 'prompt');
    return { completion, stream: r.stream === true, model: r.model };
  }
}

function firstPath(error: ZodError): string | null {
  const path = error.issues[0]?.path;
  return path === undefined || path.length === 0 ? null : path.map(String).join('.');
}

/** The body, or undefined when it is larger than `limit` bytes. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    const b = c as Buffer;
    size += b.length;
    if (size > limit) return undefined;
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** One completion's HTTP answer: a JSON body, or a stream of server-sent events. */
class SseAnswer {
  finished = false;
  private ctx: ResponseContext | undefined;
  private readonly arrivedMs: number;
  private firstTokenMs: number | undefined;
  private began = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly model: string,
    private readonly kind: Kind,
    private readonly clock: Clock,
    private readonly metrics: OperatorMetrics,
    private readonly endpoint: string,
  ) {
    this.arrivedMs = clock.now();
  }

  begin(id: string): void {
    this.ctx = {
      id,
      kind: this.kind,
      model: this.model,
      created: Math.floor(this.arrivedMs / 1000),
    };
    this.metrics.openaiInFlight.inc({ endpoint: this.endpoint });
  }

  whole(): Parameters<CompletionQueue['submit']>[1] {
    return {
      token: () => undefined,
      firstToken: (at) => {
        this.firstToken(at);
      },
      done: (result, where) => {
        this.end(
          200,
          () => {
            this.res
              .writeHead(200, { 'content-type': 'application/json' })
              .end(JSON.stringify(completionResponse(this.context(), result, where)));
          },
          result,
        );
      },
      failed: (error) => {
        this.end(error.status, () => {
          json(this.res, error.status, error.body());
        });
      },
    };
  }

  streaming(): Parameters<CompletionQueue['submit']>[1] {
    const write = (data: unknown): void => {
      this.res.write(`data: ${JSON.stringify(data)}\n\n`);
    };
    const open = (): void => {
      if (this.began) return;
      this.began = true;
      this.res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      write(chunk(this.context(), { first: true, text: '' }, null));
    };
    return {
      token: (text) => {
        open();
        write(chunk(this.context(), { text }, null));
      },
      firstToken: (at) => {
        this.firstToken(at);
      },
      done: (result, where) => {
        this.end(
          200,
          () => {
            open();
            write(chunk(this.context(), {}, finishReasonOf(result)));
            write(usageChunk(this.context(), result, where));
            this.res.end('data: [DONE]\n\n');
          },
          result,
        );
      },
      failed: (error) => {
        this.end(error.status, () => {
          // Before any event: a plain error answer; mid-stream: an error event, as OpenAI does.
          if (!this.began) json(this.res, error.status, error.body());
          else this.res.end(`data: ${JSON.stringify(error.body())}\n\n`);
        });
      },
    };
  }

  /** The caller went away before the answer: counted as code 499 (client closed request). */
  abandoned(): void {
    this.end(499, () => undefined);
  }

  private context(): ResponseContext {
    if (this.ctx === undefined) throw new Error('answer used before begin()');
    return this.ctx;
  }

  private firstToken(atMs: number): void {
    if (this.firstTokenMs !== undefined) return;
    this.firstTokenMs = atMs;
    this.metrics.openaiTimeToFirstTokenSeconds.observe(
      { model: this.model },
      (atMs - this.arrivedMs) / 1000,
    );
  }

  private end(status: number, respond: () => void, result?: RequestResult): void {
    if (this.finished) return;
    this.finished = true;
    this.metrics.openaiInFlight.dec({ endpoint: this.endpoint });
    this.metrics.openaiRequestsTotal.inc({ endpoint: this.endpoint, code: String(status) });
    if (result !== undefined && this.firstTokenMs !== undefined && result.completionTokens > 1)
      this.metrics.openaiTimePerOutputTokenSeconds.observe(
        { model: this.model },
        (this.clock.now() - this.firstTokenMs) / 1000 / (result.completionTokens - 1),
      );
    if (!this.res.destroyed) respond();
  }
}
