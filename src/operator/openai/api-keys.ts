// The endpoint's API keys, held in a Secret: each data entry is one key (entry name: who holds it,
// for logs and rate limits; value: the key). The Secret is read again every refresh interval, so
// adding or revoking a key needs no restart. Keys are compared in constant time (over their
// SHA-256 digests, so length leaks nothing either). Per-key rate limits come from the Secret's
// annotation edgellm.io/rate-limits: {"<entry name>": <requests per second>}.
import { createHash, timingSafeEqual } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiErrorMessage } from '../kube/api-errors.js';

export const RATE_LIMITS_ANNOTATION = 'edgellm.io/rate-limits';

export interface ApiKeyHolder {
  /** The Secret entry's name. */
  readonly name: string;
  /** Requests per second this key may make, when the Secret sets one. */
  readonly ratePerSecond?: number;
}

interface Entry extends ApiKeyHolder {
  readonly digest: Buffer;
}

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

export class ApiKeys {
  private entries: readonly Entry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly core: k8s.CoreV1Api;
  private loaded = false;

  constructor(
    kubeConfig: k8s.KubeConfig,
    private readonly secret: { readonly namespace: string; readonly name: string },
    private readonly log: Logger,
    private readonly refreshMs = 30_000,
  ) {
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  /** Reads the Secret now and then every refresh interval. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      void this.refresh();
    }, this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Whether the Secret has been read at least once. */
  get ready(): boolean {
    return this.loaded;
  }

  /** The holder of `key`, or undefined (every entry is compared, in constant time each). */
  check(key: string): ApiKeyHolder | undefined {
    const d = digest(key);
    let found: Entry | undefined;
    for (const e of this.entries)
      if (timingSafeEqual(d, e.digest) && found === undefined) found = e;
    return found === undefined
      ? undefined
      : {
          name: found.name,
          ...(found.ratePerSecond === undefined ? {} : { ratePerSecond: found.ratePerSecond }),
        };
  }

  private async refresh(): Promise<void> {
    const { namespace, name } = this.secret;
    try {
      const s = await this.core.readNamespacedSecret({ namespace, name });
      let limits: Record<string, unknown> = {};
      const annotation = s.metadata?.annotations?.[RATE_LIMITS_ANNOTATION];
      if (annotation !== undefined) {
        try {
          limits = JSON.parse(annotation) as Record<string, unknown>;
        } catch {
          this.log.warn(
            { secret: `${namespace}/${name}`, annotation: RATE_LIMITS_ANNOTATION },
            'the rate-limits annotation is not JSON ({"<entry>": <requests per second>}); ignoring it',
          );
        }
      }
      this.entries = Object.entries(s.data ?? {}).map(([entry, value]) => {
        const rate = limits[entry];
        return {
          name: entry,
          digest: digest(Buffer.from(value, 'base64').toString('utf8').trim()),
          ...(typeof rate === 'number' && rate > 0 ? { ratePerSecond: rate } : {}),
        };
      });
      this.loaded = true;
    } catch (error) {
      this.log.warn(
        { secret: `${namespace}/${name}`, err: apiErrorMessage(error) },
        'cannot read the API keys Secret; keeping the keys read before',
      );
    }
  }
}
