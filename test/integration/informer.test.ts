// The operator's Informer (src/operator/kube/informer.ts) on the real API server: handlers see
// the initial list and later changes, and a handler removed with the function on() returned
// hears nothing more (each leadership term registers its own handlers and removes them at the
// end, so a replica that regains the lead does not handle every event twice).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { ListWatchInformer as Informer } from '../../src/operator/kube/informer.js';
import { connectControlPlane, type Cluster } from '../harness/cluster.js';
import { waitUntil } from '../support/wait.js';

let cluster: Cluster;
let ns: string;
let core: k8s.CoreV1Api;
let informer: Informer<k8s.V1ConfigMap>;

const until = (what: string, ok: () => boolean): Promise<void> =>
  waitUntil(what, ok, { timeoutMs: 20_000, intervalMs: 50 });

async function createConfigMap(name: string): Promise<void> {
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name } } });
}

beforeAll(async () => {
  cluster = connectControlPlane();
  ns = await cluster.newNamespace('informer');
  core = cluster.api(k8s.CoreV1Api);
  await createConfigMap('before-start');
  informer = new Informer<k8s.V1ConfigMap>({
    kubeConfig: cluster.kubeConfig(),
    resource: 'configmaps',
    path: `/api/v1/namespaces/${ns}/configmaps`,
    list: () => core.listNamespacedConfigMap({ namespace: ns }),
    log: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  await informer.stop();
});

describe('Informer', () => {
  it('delivers the initial list and later adds, and stops delivering to removed handlers', async () => {
    const a: string[] = [];
    const b: string[] = [];
    informer.on({ add: (cm) => a.push(cm.metadata?.name ?? '') });
    const offB = informer.on({ add: (cm) => b.push(cm.metadata?.name ?? '') });
    informer.start();
    await informer.synced;
    await until('the initial list', () => a.includes('before-start') && b.includes('before-start'));

    await createConfigMap('both-hear');
    await until('both-hear', () => a.includes('both-hear') && b.includes('both-hear'));

    offB();
    offB(); // removing twice is harmless
    await createConfigMap('only-a');
    await until('only-a', () => a.includes('only-a'));
    // One more event after it, so a late delivery to b would have happened by now.
    await createConfigMap('marker');
    await until('marker', () => a.includes('marker'));
    expect(b).toEqual(['before-start', 'both-hear']);
    expect(a.filter((n) => n === 'both-hear')).toHaveLength(1);
    expect(informer.get(`${ns}/only-a`)?.metadata?.name).toBe('only-a');
  });
});
