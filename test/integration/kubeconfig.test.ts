// PooledKubeConfig (src/operator/kube/config.ts) on the real API server: calls share one
// dispatcher (so connections are reused; the gain is measured by the operator benchmark), and
// because the test identities authenticate with client certificates, which bind to the TLS
// connection, a changed identity must get a new dispatcher: the API server then sees the new
// user, never the old one over a reused connection.
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { PooledKubeConfig } from '../../src/operator/kube/config.js';
import { connectControlPlane, Identity, type Cluster } from '../harness/cluster.js';

let cluster: Cluster;
let ns: string;

async function dispatcherOf(kc: k8s.KubeConfig): Promise<unknown> {
  const context = new k8s.RequestContext(
    `${kc.getCurrentCluster()?.server ?? ''}/api`,
    k8s.HttpMethod.GET,
  );
  await kc.applySecurityAuthentication(context);
  return context.getDispatcher();
}

beforeAll(async () => {
  cluster = connectControlPlane();
  ns = await cluster.newNamespace('kubeconfig');
});

describe('PooledKubeConfig', () => {
  it('hands every call the same dispatcher, where the stock KubeConfig builds one per call', async () => {
    const stock = cluster.kubeConfig(Identity.admin);
    const pooled = PooledKubeConfig.from(stock);
    expect(await dispatcherOf(pooled)).toBe(await dispatcherOf(pooled));
    expect(await dispatcherOf(stock)).not.toBe(await dispatcherOf(stock));
    // And the calls work: list, create, read back.
    const core = pooled.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'pooled' }, data: { a: '1' } },
    });
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        core.readNamespacedConfigMap({ namespace: ns, name: 'pooled' }),
      ),
    );
    expect(results.map((r) => r.data?.['a'])).toEqual(results.map(() => '1'));
  });

  it('switches dispatcher, and so the identity the server sees, when the client certificate changes', async () => {
    const admin = cluster.kubeConfig(Identity.admin);
    const operator = cluster.kubeConfig(Identity.operator);
    const pooled = PooledKubeConfig.from(admin);
    const apps = pooled.makeApiClient(k8s.AppsV1Api);
    // The admin may list Deployments; the operator identity may not (the chart grants none).
    await apps.listNamespacedDeployment({ namespace: ns });
    const asAdmin = await dispatcherOf(pooled);
    const cluster_ = operator.getCurrentCluster();
    const user = operator.getCurrentUser();
    if (cluster_ === null || user === null) throw new Error('operator kubeconfig has no context');
    pooled.loadFromClusterAndUser(cluster_, user);
    expect(await dispatcherOf(pooled)).not.toBe(asAdmin);
    await expect(apps.listNamespacedDeployment({ namespace: ns })).rejects.toMatchObject({
      code: 403,
    });
  });
});
