// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics (the JavaScript
// client has none): a candidate takes the Lease when it is free or its holder has not renewed it
// for leaseDurationSeconds, renews it every retry period, and steps down when it cannot renew
// before the renew deadline. Like client-go, "has not renewed" is judged on this replica's clock:
// the Lease counts as expired when its holder and renewTime have not changed for the lease
// duration since this replica first saw them, so clock skew between replicas (edge clusters
// rarely have good NTP) neither lets a standby steal a live Lease nor keeps a dead one held.
// Writes carry the resourceVersion read, so two candidates never both win (the API server
// answers 409 to the slower one). On a clean stop the leader releases the Lease (empty holder),
// so a standby takes over at once instead of after the lease duration.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { OperatorMetrics } from '../metrics.js';
import { apiStatusCode } from './api-errors.js';
import { sleep, systemClock, type Clock } from './clock.js';

export const LEASE_DEFAULTS = {
  leaseDurationSeconds: 15,
  /** Leader gives up when it could not renew for this long (client-go: 10 s of 15). */
  renewDeadlineFraction: 2 / 3,
  /** Candidates and the leader try every leaseDuration / 5 (3 s of 15; client-go: 2 s). */
  retryFraction: 1 / 5,
} as const;

export interface LeaderElectionOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly namespace: string;
  readonly name: string;
  /** Unique per replica: pod name plus a random suffix. */
  readonly identity: string;
  readonly leaseDurationSeconds?: number;
  readonly log: Logger;
  readonly metrics?: Pick<OperatorMetrics, 'leader'>;
  /** This replica's clock (the system clock unless a test drives it). */
  readonly clock?: Clock;
  /**
   * Written on the Lease while this replica holds it, for the others to read (the leader's
   * OpenAI endpoint address, so that followers forward to it).
   */
  readonly annotations?: () => Readonly<Record<string, string>>;
}

/** Who holds the Lease as last read, and what it wrote on it. */
export interface ObservedLeader {
  readonly identity: string;
  readonly annotations: Readonly<Record<string, string>>;
}

/**
 * client-go's expiry judgement: a Lease record (holder + renewTime) counts as expired when it has
 * not changed for the lease duration since this replica first saw it, measured on this replica's
 * own clock. The holder's timestamps are compared only for equality, so a holder whose clock runs
 * ahead or behind neither keeps a dead Lease nor loses a live one.
 */
export class LeaseExpiry {
  private observed: { readonly record: string; readonly atMs: number } | undefined;

  /** Whether the Lease is free to take at `nowMs`; `holder` '' means released. */
  expired(
    holder: string,
    renewTime: string | undefined,
    durationMs: number,
    nowMs: number,
  ): boolean {
    const record = `${holder}\u0000${renewTime ?? ''}`;
    if (this.observed?.record !== record) this.observed = { record, atMs: nowMs };
    return holder === '' || this.observed.atMs + durationMs < nowMs;
  }
}

export interface LeadershipCallbacks {
  /** Called when this replica becomes leader; `signal` aborts when leadership ends. */
  onStartedLeading(signal: AbortSignal): void;
  onStoppedLeading?(): void;
}

export class LeaderElector {
  private readonly api: k8s.CoordinationV1Api;
  private readonly durationMs: number;
  private readonly retryMs: number;
  private readonly renewDeadlineMs: number;
  private readonly clock: Clock;
  private readonly expiry = new LeaseExpiry();
  private leading = false;
  private lastRenewMs = 0;
  private observedLeader: ObservedLeader | undefined;

  constructor(private readonly options: LeaderElectionOptions) {
    this.api = options.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
    this.clock = options.clock ?? systemClock;
    const seconds = options.leaseDurationSeconds ?? LEASE_DEFAULTS.leaseDurationSeconds;
    if (!(seconds >= 2))
      throw new RangeError(`lease duration must be at least 2 s, got ${seconds}`);
    this.durationMs = seconds * 1000;
    this.retryMs = this.durationMs * LEASE_DEFAULTS.retryFraction;
    this.renewDeadlineMs = this.durationMs * LEASE_DEFAULTS.renewDeadlineFraction;
  }

  /** The holder of the Lease as last read (undefined before the first read or when free). */
  get leader(): ObservedLeader | undefined {
    return this.observedLeader;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until `signal` aborts: leads while it holds the Lease, campaigns again after losing
   * it. Resolves after the Lease is released on stop.
   */
  async run(signal: AbortSignal, callbacks: LeadershipCallbacks): Promise<void> {
    const { log, name, namespace, identity } = this.options;
    let term: AbortController | undefined;
    const stepDown = (why: string): void => {
      if (!this.leading) return;
      this.leading = false;
      this.options.metrics?.leader.set({ lease: name }, 0);
      log.warn({ lease: `${namespace}/${name}`, identity, why }, 'stopped leading');
      term?.abort(new Error(why));
      term = undefined;
      callbacks.onStoppedLeading?.();
    };
    this.options.metrics?.leader.set({ lease: name }, 0);
    while (!signal.aborted) {
      let held = false;
      try {
        held = await this.tryAcquireOrRenew();
      } catch (error) {
        log.warn({ err: error, lease: `${namespace}/${name}` }, 'lease update failed');
      }
      const now = this.clock.now();
      if (held) {
        this.lastRenewMs = now;
        if (!this.leading) {
          this.leading = true;
          this.options.metrics?.leader.set({ lease: name }, 1);
          log.info({ lease: `${namespace}/${name}`, identity }, 'started leading');
          term = new AbortController();
          callbacks.onStartedLeading(term.signal);
        }
      } else if (this.leading && now - this.lastRenewMs > this.renewDeadlineMs) {
        stepDown('could not renew the lease before the renew deadline');
      }
      // A failed renewal inside the renew deadline keeps leading and retries.
      await sleep(this.clock, this.retryMs, signal).catch(() => undefined);
    }
    const wasLeading = this.leading;
    stepDown('stopping');
    if (wasLeading) await this.release().catch(() => undefined);
  }

  /** One attempt: true when this replica holds the Lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const now = new Date(this.clock.now());
    let lease: k8s.V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (apiStatusCode(error) !== 404) throw error;
      try {
        await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: {
              name,
              namespace,
              ...(this.options.annotations === undefined
                ? {}
                : { annotations: { ...this.options.annotations() } }),
            },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: this.durationMs / 1000,
              acquireTime: new k8s.V1MicroTime(now.getTime()),
              renewTime: new k8s.V1MicroTime(now.getTime()),
              leaseTransitions: 0,
            },
          },
        });
        this.observedLeader = { identity, annotations: this.options.annotations?.() ?? {} };
        return true;
      } catch (createError) {
        if (apiStatusCode(createError) === 409) return false;
        throw createError;
      }
    }
    const spec = lease.spec ?? {};
    this.observedLeader =
      (spec.holderIdentity ?? '') === ''
        ? undefined
        : { identity: spec.holderIdentity ?? '', annotations: lease.metadata?.annotations ?? {} };
    const holder = spec.holderIdentity ?? '';
    const duration = (spec.leaseDurationSeconds ?? this.durationMs / 1000) * 1000;
    const mine = holder === identity;
    const expired = this.expiry.expired(
      holder,
      spec.renewTime ? new Date(spec.renewTime).toISOString() : undefined,
      duration,
      now.getTime(),
    );
    if (!mine && !expired) return false;
    const renewedAt = new k8s.V1MicroTime(now.getTime());
    const next: k8s.V1LeaseSpec = lease.spec ?? {};
    if (!mine) {
      next.acquireTime = renewedAt;
      next.leaseTransitions = (next.leaseTransitions ?? 0) + 1;
    }
    next.holderIdentity = identity;
    next.leaseDurationSeconds = this.durationMs / 1000;
    next.renewTime = renewedAt;
    lease.spec = next;
    if (this.options.annotations !== undefined) {
      lease.metadata ??= {};
      lease.metadata.annotations = {
        ...lease.metadata.annotations,
        ...this.options.annotations(),
      };
    }
    const body = lease;
    try {
      await this.api.replaceNamespacedLease({ name, namespace, body });
      this.observedLeader = { identity, annotations: lease.metadata?.annotations ?? {} };
      return true;
    } catch (error) {
      if (apiStatusCode(error) === 409) return false;
      throw error;
    }
  }

  private async release(): Promise<void> {
    const { namespace, name, identity } = this.options;
    const lease = await this.api.readNamespacedLease({ name, namespace });
    if (lease.spec?.holderIdentity !== identity) return;
    await this.api.replaceNamespacedLease({
      name,
      namespace,
      body: Object.assign(lease, {
        spec: Object.assign(lease.spec ?? {}, { holderIdentity: '', leaseDurationSeconds: 1 }),
      }),
    });
    this.options.log.info({ lease: `${namespace}/${name}` }, 'released the lease');
  }
}
