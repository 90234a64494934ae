// Leader election (src/operator/kube/lease.ts) on the real API server, as the operator identity
// bound to the chart's RBAC: one leader among candidates, a clean stop hands over at once, a
// holder that stops renewing (a crashed replica) loses the Lease after the lease duration, and
// expiry is judged on the candidate's own clock, so a holder whose clock runs ahead cannot keep
// a dead Lease.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { LeaderElector } from '../../src/operator/kube/lease.js';
import {
  bindOperatorRules,
  connectControlPlane,
  Identity,
  type Cluster,
} from '../harness/cluster.js';
import { waitUntil } from '../support/wait.js';

const DURATION_SECONDS = 3;
const log = pino({ level: process.env['EDGELLM_TEST_LOG'] ?? 'silent' });

let cluster: Cluster;
let ns: string;
let leases: k8s.CoordinationV1Api;
const running: { stop: AbortController; done: Promise<void> }[] = [];
let leaseCount = 0;

interface Candidate {
  readonly elector: LeaderElector;
  /** Leadership terms started so far. */
  terms: number;
  stop(): Promise<void>;
}

function candidate(name: string, identity: string): Candidate {
  const elector = new LeaderElector({
    kubeConfig: cluster.kubeConfig(Identity.operator),
    namespace: ns,
    name,
    identity,
    leaseDurationSeconds: DURATION_SECONDS,
    log,
  });
  const stop = new AbortController();
  const c: Candidate = {
    elector,
    terms: 0,
    stop: async () => {
      stop.abort();
      await done;
    },
  };
  const done = elector.run(stop.signal, {
    onStartedLeading: () => {
      c.terms += 1;
    },
  });
  running.push({ stop, done });
  return c;
}

/** Waits until `ok` holds; returns how long that took, ms. */
async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  await waitUntil(what, ok, { timeoutMs, intervalMs: 50 });
  return Date.now() - start;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A Lease held by a replica that has died: it will never be renewed again. */
async function deadLease(renewTime: Date): Promise<string> {
  leaseCount += 1;
  const name = `dead-${leaseCount}`;
  await leases.createNamespacedLease({
    namespace: ns,
    body: {
      metadata: { name, namespace: ns },
      spec: {
        holderIdentity: 'crashed-replica',
        leaseDurationSeconds: DURATION_SECONDS,
        acquireTime: new k8s.V1MicroTime(renewTime.getTime()),
        renewTime: new k8s.V1MicroTime(renewTime.getTime()),
        leaseTransitions: 4,
      },
    },
  });
  return name;
}

beforeAll(async () => {
  cluster = connectControlPlane();
  ns = await cluster.newNamespace('lease');
  leases = cluster.api(k8s.CoordinationV1Api);
  await bindOperatorRules(
    cluster.state,
    `edgellm-operator-lease-${Math.random().toString(36).slice(2, 8)}`,
    ns,
  );
});

afterAll(async () => {
  for (const r of running) r.stop.abort();
  await Promise.all(running.map((r) => r.done));
});

describe('leader election on a Lease', () => {
  it('elects exactly one of three candidates, and a clean stop hands over at once', async () => {
    const all = ['a', 'b', 'c'].map((id) => candidate('shared', id));
    await until('a leader', () => all.some((c) => c.elector.isLeader), 10_000);
    // Several renew periods later there is still exactly one leader, the same one.
    const leader = all.find((c) => c.elector.isLeader);
    for (let i = 0; i < 6; i += 1) {
      await sleep(500);
      expect(all.filter((c) => c.elector.isLeader)).toEqual([leader]);
    }
    expect(leader?.terms).toBe(1);
    const lease = await leases.readNamespacedLease({ name: 'shared', namespace: ns });
    expect(lease.spec?.holderIdentity).toBe(['a', 'b', 'c'][all.indexOf(leader as Candidate)]);

    // A released Lease is free: a standby takes it within a retry period, not a lease duration.
    await leader?.stop();
    const rest = all.filter((c) => c !== leader);
    const handover = await until(
      'a standby leads',
      () => rest.some((c) => c.elector.isLeader),
      10_000,
    );
    expect(handover).toBeLessThan(DURATION_SECONDS * 1000);
    expect(rest.filter((c) => c.elector.isLeader)).toHaveLength(1);
  });

  it('takes over a Lease whose holder stopped renewing, only after the lease duration', async () => {
    const name = await deadLease(new Date());
    const standby = candidate(name, 'standby');
    await sleep((DURATION_SECONDS * 1000) / 2);
    expect(standby.elector.isLeader).toBe(false);
    await until('standby leads', () => standby.elector.isLeader, 3 * DURATION_SECONDS * 1000);
    const lease = await leases.readNamespacedLease({ name, namespace: ns });
    expect(lease.spec).toMatchObject({ holderIdentity: 'standby', leaseTransitions: 5 });
  });

  it('judges expiry on its own clock: a holder whose clock ran an hour ahead cannot keep a dead Lease', async () => {
    const name = await deadLease(new Date(Date.now() + 3600_000));
    const standby = candidate(name, 'standby');
    await until('standby leads', () => standby.elector.isLeader, 3 * DURATION_SECONDS * 1000);
    expect((await leases.readNamespacedLease({ name, namespace: ns })).spec?.holderIdentity).toBe(
      'standby',
    );
  });

  it('leaves a live Lease alone even when its holder’s clock runs an hour behind', async () => {
    const name = await deadLease(new Date(Date.now() - 3600_000));
    // The holder is alive: it renews every 500 ms, stamping its own (late) clock.
    const alive = new AbortController();
    const renewing = (async () => {
      while (!alive.signal.aborted) {
        const lease = await leases.readNamespacedLease({ name, namespace: ns });
        const spec = lease.spec ?? {};
        spec.renewTime = new k8s.V1MicroTime(Date.now() - 3600_000);
        lease.spec = spec;
        await leases.replaceNamespacedLease({ name, namespace: ns, body: lease });
        await sleep(500);
      }
    })();
    const standby = candidate(name, 'standby');
    await sleep(3 * DURATION_SECONDS * 1000);
    alive.abort();
    await renewing;
    expect(standby.elector.isLeader).toBe(false);
    expect(standby.terms).toBe(0);
    // Once the holder is gone, the standby takes over.
    await until('standby leads', () => standby.elector.isLeader, 3 * DURATION_SECONDS * 1000);
  });
});
