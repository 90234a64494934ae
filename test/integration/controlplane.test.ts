// Tests of the test control plane itself (test/harness/, test/controlplane/): a real
// kube-apiserver with etcd serves CRDs with validation, watches, Leases, Events, server-side
// dry runs, and enforces RBAC per identity.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import {
  Identity,
  ManifestRejectedError,
  applyCrds,
  connectControlPlane,
  serverMessage,
  statusCode,
  type Cluster,
} from '../harness/cluster.js';

const CRD_PATH = new URL('../harness/fixtures/widgets-crd.yaml', import.meta.url);
const GROUP = 'harness.edgellm.io';
const VERSION = 'v1';
const PLURAL = 'widgets';

interface Widget extends k8s.KubernetesObject {
  spec: { size: string; replicas?: number; minReplicas?: number };
}

function widget(namespace: string, name: string, spec: Widget['spec']): Widget {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: 'Widget', metadata: { name, namespace }, spec };
}

/** The rejection a promise ends in (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the request to be rejected, but it succeeded');
}

let cluster: Cluster;
let ns: string;

beforeAll(async () => {
  cluster = connectControlPlane();
  ns = await cluster.newNamespace('harness');
  await applyCrds(
    cluster.kubeConfig(Identity.admin),
    readFileSync(CRD_PATH, 'utf8'),
    CRD_PATH.pathname,
  );
});

describe('control plane', () => {
  it('answers /readyz over TLS signed by the harness CA', async () => {
    const ca = readFileSync(cluster.state.caFile);
    const { code, body } = await new Promise<{ code: number; body: string }>((resolve, reject) => {
      request(`${cluster.state.server}/readyz`, { ca }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          resolve({ code: res.statusCode ?? 0, body: text });
        });
      })
        .on('error', reject)
        .end();
    });
    expect(code).toBe(200);
    expect(body).toBe('ok');
  });

  it('serves Kubernetes 1.33 or newer', async () => {
    const version = await cluster.api(k8s.VersionApi).getCode();
    expect(version.major).toBe('1');
    expect(Number.parseInt(version.minor, 10)).toBeGreaterThanOrEqual(33);
  });

  it('authenticates each identity by its client certificate', async () => {
    const expected = {
      admin: { user: 'edgellm-admin', group: 'system:masters' },
      operator: { user: 'edgellm-operator', group: 'edgellm:operators' },
      agent: { user: 'edgellm-agent', group: 'edgellm:agents' },
    } as const;
    for (const identity of Object.values(Identity)) {
      const review = await cluster.api(k8s.AuthenticationV1Api, identity).createSelfSubjectReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      });
      expect(review.status?.userInfo?.username).toBe(expected[identity].user);
      expect(review.status?.userInfo?.groups).toContain(expected[identity].group);
    }
  });
});

describe('custom resources', () => {
  it('stores a valid object', async () => {
    const created = await cluster
      .objects()
      .create(widget(ns, 'valid', { size: 'small', replicas: 3 }));
    expect(created.metadata?.uid).toBeTruthy();
    const read = await cluster.objects().read<Widget>({
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'Widget',
      metadata: { name: 'valid', namespace: ns },
    });
    expect(read.spec.replicas).toBe(3);
  });

  it('rejects an object that breaks the OpenAPI schema, with the server message', async () => {
    const error = await rejection(
      cluster.objects().create(widget(ns, 'invalid', { size: 'huge', replicas: 0 })),
    );
    expect(statusCode(error)).toBe(422);
    const message = serverMessage(error);
    expect(message).toContain('Widget.harness.edgellm.io "invalid" is invalid');
    expect(message).toContain(
      'spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1',
    );
    expect(message).toContain(
      'spec.size: Unsupported value: "huge": supported values: "small", "large"',
    );
  });

  it('rejects an object that breaks a CEL rule, with the rule message', async () => {
    const error = await rejection(
      cluster.objects().create(widget(ns, 'cel', { size: 'large', replicas: 2, minReplicas: 5 })),
    );
    expect(statusCode(error)).toBe(422);
    expect(serverMessage(error)).toContain('minReplicas must not exceed replicas');
  });

  it('rejects an object without a required field', async () => {
    const error = await rejection(
      cluster.objects().create({ ...widget(ns, 'nosize', { size: 'small' }), spec: {} }),
    );
    expect(statusCode(error)).toBe(422);
    expect(serverMessage(error)).toContain('spec.size: Required value');
  });
});

describe('server-side dry run', () => {
  it('validates manifests without storing them', async () => {
    const yaml = `apiVersion: ${GROUP}/${VERSION}
kind: Widget
metadata: {name: dry}
spec: {size: large, replicas: 10}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dry}
data: {k: v}
`;
    const applied = await cluster.applyManifests(yaml, { namespace: ns, dryRun: true });
    expect(applied.map((o) => `${o.kind ?? ''}/${o.metadata?.name ?? ''}`)).toEqual([
      'Widget/dry',
      'ConfigMap/dry',
    ]);
    const error = await rejection(
      cluster.api(k8s.CoreV1Api).readNamespacedConfigMap({ name: 'dry', namespace: ns }),
    );
    expect(statusCode(error)).toBe(404);
  });

  it('reports every rejected manifest with the server message', async () => {
    const yaml = `apiVersion: ${GROUP}/${VERSION}
kind: Widget
metadata: {name: too-many}
spec: {size: small, replicas: 11}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: fine}
---
apiVersion: v1
kind: Service
metadata: {name: bad-port}
spec: {ports: [{port: 70000}]}
`;
    const error = await rejection(cluster.applyManifests(yaml, { namespace: ns, dryRun: true }));
    expect(error).toBeInstanceOf(ManifestRejectedError);
    const rejections = (error as ManifestRejectedError).rejections;
    expect(rejections.map((r) => r.object)).toEqual(['Widget/too-many', 'Service/bad-port']);
    expect(rejections[0]?.message).toContain(
      'spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10',
    );
    expect(rejections[1]?.message).toContain(
      'spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
    );
  });
});

describe('watch', () => {
  it('delivers a created object to a watcher', async () => {
    const events: { phase: string; name: string | undefined }[] = [];
    const watch = new k8s.Watch(cluster.kubeConfig(Identity.admin));
    const list: unknown = await cluster.api(k8s.CustomObjectsApi).listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
    });
    const resourceVersion = (list as { metadata: { resourceVersion: string } }).metadata
      .resourceVersion;
    const controller = await watch.watch(
      `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`,
      { resourceVersion },
      (phase, object: k8s.KubernetesObject) => {
        events.push({ phase, name: object.metadata?.name });
      },
      () => undefined,
    );
    try {
      await cluster.objects().create(widget(ns, 'watched', { size: 'large' }));
      for (let i = 0; i < 100 && !events.some((e) => e.name === 'watched'); i++) await sleep(50);
      expect(events).toContainEqual({ phase: 'ADDED', name: 'watched' });
    } finally {
      controller.abort();
    }
  });
});

describe('leases', () => {
  it('creates and renews a Lease and detects a stale resourceVersion', async () => {
    const leases = cluster.api(k8s.CoordinationV1Api);
    const lease = (resourceVersion: string | undefined, holderIdentity: string): k8s.V1Lease => ({
      metadata: {
        name: 'leader',
        namespace: ns,
        ...(resourceVersion === undefined ? {} : { resourceVersion }),
      },
      spec: { holderIdentity, leaseDurationSeconds: 15, renewTime: new k8s.V1MicroTime() },
    });
    const created = await leases.createNamespacedLease({
      namespace: ns,
      body: lease(undefined, 'a'),
    });
    const staleVersion = created.metadata?.resourceVersion;
    expect(staleVersion).toBeTruthy();

    const renewed = await leases.replaceNamespacedLease({
      name: 'leader',
      namespace: ns,
      body: lease(staleVersion, 'a'),
    });
    expect(renewed.metadata?.resourceVersion).not.toBe(staleVersion);

    // A second candidate that read the Lease before the renewal must lose the race.
    const error = await rejection(
      leases.replaceNamespacedLease({
        name: 'leader',
        namespace: ns,
        body: lease(staleVersion, 'b'),
      }),
    );
    expect(statusCode(error)).toBe(409);
    expect(serverMessage(error)).toContain(
      'the object has been modified; please apply your changes to the latest version and try again',
    );
    const current = await leases.readNamespacedLease({ name: 'leader', namespace: ns });
    expect(current.spec?.holderIdentity).toBe('a');
  });
});

describe('events', () => {
  it('writes an events.k8s.io Event about an object and lists it', async () => {
    const target = await cluster.objects().create(widget(ns, 'eventful', { size: 'small' }));
    const now = new k8s.V1MicroTime();
    await cluster.api(k8s.EventsV1Api).createNamespacedEvent({
      namespace: ns,
      body: {
        metadata: { generateName: 'eventful-' },
        eventTime: now,
        reportingController: 'edgellm.io/operator',
        reportingInstance: 'operator-0',
        action: 'Schedule',
        reason: 'Scheduled',
        type: 'Normal',
        note: 'scheduled onto node-a',
        regarding: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'Widget',
          name: 'eventful',
          namespace: ns,
          uid: target.metadata?.uid ?? '',
        },
      },
    });
    const list = await cluster
      .api(k8s.CoreV1Api)
      .listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=eventful' });
    expect(list.items.map((e) => [e.reason, e.message, e.involvedObject.kind])).toEqual([
      ['Scheduled', 'scheduled onto node-a', 'Widget'],
    ]);
  });
});

describe('RBAC', () => {
  beforeAll(async () => {
    // The operator may manage Leases and write Events in this namespace; agents may read
    // ConfigMaps. Nothing else is granted to either.
    await cluster.applyManifests(
      `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: operator}
rules:
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    verbs: [get, list, watch, create, update]
  - apiGroups: [events.k8s.io]
    resources: [events]
    verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: operator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: operator}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: edgellm-operator}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: agents}
rules:
  - apiGroups: ['']
    resources: [configmaps]
    verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: agents}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: agents}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: 'edgellm:agents'}]
`,
      { namespace: ns },
    );
  });

  it('allows the operator what its Role grants', async () => {
    const leases = cluster.api(k8s.CoordinationV1Api, Identity.operator);
    await leases.createNamespacedLease({
      namespace: ns,
      body: { metadata: { name: 'operator-lease' }, spec: { holderIdentity: 'operator-0' } },
    });
    const list = await leases.listNamespacedLease({ namespace: ns });
    expect(list.items.map((l) => l.metadata?.name)).toContain('operator-lease');
  });

  it('denies the operator what its Role does not grant, with the server message', async () => {
    const error = await rejection(
      cluster.api(k8s.CoreV1Api, Identity.operator).listNamespacedSecret({ namespace: ns }),
    );
    expect(statusCode(error)).toBe(403);
    expect(serverMessage(error)).toBe(
      `secrets is forbidden: User "edgellm-operator" cannot list resource "secrets" in API group "" in the namespace "${ns}"`,
    );
    const deleteError = await rejection(
      cluster
        .api(k8s.CoordinationV1Api, Identity.operator)
        .deleteNamespacedLease({ name: 'leader', namespace: ns }),
    );
    expect(statusCode(deleteError)).toBe(403);
  });

  it('allows an agent what its group Role grants and denies secrets', async () => {
    const core = cluster.api(k8s.CoreV1Api, Identity.agent);
    await expect(core.listNamespacedConfigMap({ namespace: ns })).resolves.toHaveProperty('items');
    const error = await rejection(core.listNamespacedSecret({ namespace: ns }));
    expect(statusCode(error)).toBe(403);
    expect(serverMessage(error)).toContain('User "edgellm-agent" cannot list resource "secrets"');
    const leaseError = await rejection(
      cluster.api(k8s.CoordinationV1Api, Identity.agent).listNamespacedLease({ namespace: ns }),
    );
    expect(statusCode(leaseError)).toBe(403);
  });

  it('checks authorization in a server-side dry run too', async () => {
    const error = await rejection(
      cluster.applyManifests(
        'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n',
        {
          namespace: ns,
          identity: Identity.operator,
          dryRun: true,
        },
      ),
    );
    expect(error).toBeInstanceOf(ManifestRejectedError);
    expect((error as ManifestRejectedError).rejections[0]?.code).toBe(403);
  });
});
