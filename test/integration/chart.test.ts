// The Helm chart against the real kube-apiserver: `helm lint --strict`, then `helm template` with
// default values and with the main toggles on, applied with a server-side dry run (dryRun=All) so
// the server validates every object (schemas, the CRDs' own schema for the CRD copies). The
// Prometheus Operator and cert-manager CRDs are not part of the test cluster: minimal fixture
// CRDs for their kinds (schema: x-kubernetes-preserve-unknown-fields) are installed here, so the
// dry run checks that those objects are well-formed Kubernetes objects, not their spec.
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { agentConfigSchema } from '../../src/agent/config.js';
import { openAiDefaultsSchema } from '../../src/operator/openai/defaults.js';
import type {
  V1ConfigMap,
  V1Deployment,
  V1Ingress,
  V1ObjectMeta,
  V1PodSpec,
  V1Service,
} from '@kubernetes/client-node';
import { connectControlPlane, type Cluster } from '../harness/cluster.js';

const HELM = execFileSync('scripts/ensure-helm.sh', { encoding: 'utf8' }).trim();
const CHART = 'charts/edgellm';
const KUBE_VERSION = '1.33.0';

interface KubeDoc {
  kind?: string;
  metadata?: V1ObjectMeta;
}

interface WorkloadDoc {
  kind?: string;
  metadata?: V1ObjectMeta;
  spec?: { template?: { spec?: V1PodSpec } };
}

let cluster: Cluster;
let ns: string;

function helm(args: string[]): string {
  return execFileSync(HELM, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function template(namespace: string, sets: string[]): string {
  return helm([
    'template',
    'edge',
    CHART,
    '--namespace',
    namespace,
    '--kube-version',
    KUBE_VERSION,
    ...sets.flatMap((s) => ['--set', s]),
  ]);
}

function kindsOf(yaml: string): string[] {
  return [...yaml.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1] ?? '');
}

function fixtureCrd(group: string, kind: string, plural: string): string {
  return stringify({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${plural}.${group}`,
      // *.k8s.io groups are protected; the Gateway API's own CRDs carry this annotation too.
      ...(group.endsWith('.k8s.io')
        ? {
            annotations: {
              'api-approved.kubernetes.io':
                'https://github.com/kubernetes-sigs/gateway-api/pull/2466',
            },
          }
        : {}),
    },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
          },
        },
      ],
    },
  });
}

/** Applies with a dry run, retrying while fixture CRDs are not yet served (discovery lags). */
async function dryRunApply(yaml: string): Promise<void> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 60; attempt += 1) {
    try {
      await cluster.applyManifests(yaml, { dryRun: true, namespace: ns });
      return;
    } catch (error) {
      lastError = error;
      if (!/not found|could not find|no matches/i.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  throw lastError;
}

beforeAll(async () => {
  cluster = connectControlPlane();
  ns = await cluster.newNamespace('chart');
  await cluster.applyManifests(
    [
      fixtureCrd('monitoring.coreos.com', 'ServiceMonitor', 'servicemonitors'),
      fixtureCrd('monitoring.coreos.com', 'PodMonitor', 'podmonitors'),
      fixtureCrd('monitoring.coreos.com', 'PrometheusRule', 'prometheusrules'),
      fixtureCrd('cert-manager.io', 'Certificate', 'certificates'),
      fixtureCrd('cert-manager.io', 'Issuer', 'issuers'),
      fixtureCrd('gateway.networking.k8s.io', 'HTTPRoute', 'httproutes'),
    ].join('---\n'),
  );
});

describe('helm chart charts/edgellm', () => {
  it('passes helm lint --strict with default values and with every toggle on', () => {
    expect(helm(['lint', '--strict', CHART])).toMatch(/0 chart\(s\) failed/);
    expect(
      helm([
        'lint',
        '--strict',
        CHART,
        '--set',
        'tls.mode=cert-manager,monitoring.serviceMonitor.enabled=true,monitoring.podMonitor.enabled=true,monitoring.prometheusRule.enabled=true',
      ]),
    ).toMatch(/0 chart\(s\) failed/);
  });

  it('renders default values that the API server accepts (server-side dry run)', async () => {
    const yaml = template(ns, []);
    const kinds = kindsOf(yaml);
    for (const kind of [
      'Deployment',
      'DaemonSet',
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'CustomResourceDefinition',
    ]) {
      expect(kinds).toContain(kind);
    }
    expect(kinds).not.toContain('PrometheusRule');
    await dryRunApply(yaml);
  });

  it('renders cert-manager TLS, monitoring and CRDs that the API server accepts', async () => {
    const yaml = template(ns, [
      'tls.mode=cert-manager',
      'crds.install=true',
      'monitoring.serviceMonitor.enabled=true',
      'monitoring.serviceMonitor.labels.release=prom',
      'monitoring.podMonitor.enabled=true',
      'monitoring.prometheusRule.enabled=true',
      'monitoring.dashboard.enabled=true',
    ]);
    const kinds = kindsOf(yaml);
    for (const kind of [
      'Certificate',
      'Issuer',
      'ServiceMonitor',
      'PodMonitor',
      'PrometheusRule',
    ]) {
      expect(kinds).toContain(kind);
    }
    expect(yaml).toContain('release: prom');
    // The Grafana dashboard ConfigMap, labelled for kube-prometheus-stack's sidecar.
    expect(yaml).toContain('grafana_dashboard: "1"');
    expect(yaml).toContain('"uid": "edgellm-overview"');
    await dryRunApply(yaml);
  });

  it('rejects bad values through values.schema.json, naming the value to fix', () => {
    const cases: [string, RegExp][] = [
      ['tls.mode=bogus', /tls.*mode/],
      ['operator.replica=3', /additional properties 'replica' not allowed/],
      ['agent.config.models[0].contextTokens=10', /contextTokens/],
      ['tls.mode=existing', /agentSecret/],
      ['monitoring.prometheusRule.disabledAlerts={EdgellmNoSuchAlert}', /disabledAlerts/],
      ['agent.modelVolume.type=emptyDir', /modelVolume.*type/],
      ['operator.topologySpreadConstraints[0].whenUnsatisfiable=Sometimes', /whenUnsatisfiable/],
      ['openai.defaults.latencyBudget=soon', /latencyBudget/],
      ['openai.httpRoute.enabled=true', /parentRefs/],
    ];
    for (const [set, message] of cases) {
      let stderr = '';
      try {
        template(ns, [set]);
      } catch (error) {
        stderr = String((error as { stderr?: unknown }).stderr);
      }
      expect([set, stderr]).toEqual([
        set,
        expect.stringMatching(/values don't meet the specifications of the schema/),
      ]);
      expect([set, stderr]).toEqual([set, expect.stringMatching(message)]);
    }
  });

  it('renders the OpenAI endpoint: Service, Ingress, HTTPRoute, keys, TLS, defaults the operator reads', async () => {
    const yaml = template(ns, [
      'openai.apiKeys.existingSecret=edge-keys',
      'openai.tls.existingSecret=edge-openai-tls',
      'openai.defaults.latencyBudget=30s',
      'openai.defaults.models.smollm2-135m.maxPerplexityIncrease=2',
      'openai.ingress.enabled=true',
      'openai.ingress.host=llm.example.com',
      'openai.httpRoute.enabled=true',
      'openai.httpRoute.parentRefs[0].name=edge-gateway',
      'openai.networkPolicyFrom[0].namespaceSelector.matchLabels.team=apps',
    ]);
    const docs = parseAllDocuments(yaml).map((d) => d.toJS() as KubeDoc);
    const named = (kind: string, name = 'edge-edgellm-operator-openai'): unknown => {
      const doc = docs.find((d) => d.kind === kind && d.metadata?.name === name);
      if (doc === undefined) throw new Error(`no ${kind} ${name} rendered`);
      return doc;
    };
    expect((named('Service') as V1Service).spec?.ports).toEqual([
      { name: 'https', port: 80, targetPort: 'openai', protocol: 'TCP' },
    ]);
    expect((named('Ingress') as V1Ingress).spec?.rules?.[0]?.host).toBe('llm.example.com');
    expect(
      (named('HTTPRoute') as { spec: { rules: { backendRefs: unknown }[] } }).spec.rules[0]
        ?.backendRefs,
    ).toEqual([{ name: 'edge-edgellm-operator-openai', port: 80 }]);
    // The defaults file parses with the schema the operator reads it with.
    const defaults = parse(
      (named('ConfigMap') as V1ConfigMap).data?.['defaults.yaml'] ?? '',
    ) as unknown;
    expect(openAiDefaultsSchema.parse(defaults)).toEqual({
      latencyBudget: '30s',
      maxPerplexityIncrease: 0,
      models: { 'smollm2-135m': { maxPerplexityIncrease: 2 } },
    });
    const container = (named('Deployment', 'edge-edgellm-operator') as V1Deployment).spec?.template
      .spec?.containers[0];
    expect(container?.args).toEqual(
      expect.arrayContaining([
        '--openai-listen=0.0.0.0:8000',
        '--openai-advertise=$(POD_IP):8000',
        '--openai-api-keys-secret=edge-keys',
        '--openai-tls-cert=/etc/edgellm/openai-tls/tls.crt',
        '--openai-tls-key=/etc/edgellm/openai-tls/tls.key',
        '--openai-defaults=/etc/edgellm/openai/defaults.yaml',
      ]),
    );
    expect(container?.env).toEqual(
      expect.arrayContaining([
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      ]),
    );
    // The endpoint is reachable from openai.networkPolicyFrom and from the other operators.
    const policy = (
      named('NetworkPolicy', 'edge-edgellm-operator') as {
        spec?: { ingress?: { ports?: { port?: string }[]; from?: unknown[] }[] };
      }
    ).spec;
    const rule = policy?.ingress?.find((r) => r.ports?.[0]?.port === 'openai');
    expect(rule?.from).toHaveLength(2);
    await dryRunApply(yaml);
    // Off: no endpoint, no port, no Service.
    const off = template(ns, ['openai.enabled=false']);
    expect(off).not.toMatch(/--openai-|name: openai|kind: (Ingress|HTTPRoute)/);
  });

  it('leaves the CRDs out with crds.install=false', () => {
    expect(kindsOf(template(ns, ['crds.install=false']))).not.toContain('CustomResourceDefinition');
  });

  it('renders an agent config that `edgellm agent --config` accepts, and the agent flags it runs with', () => {
    const docs = parseAllDocuments(template(ns, [])).map(
      (d) =>
        d.toJSON() as {
          kind?: string;
          metadata?: { name?: string };
          data?: Record<string, string>;
          spec?: unknown;
        },
    );
    const config = docs.find((d) => d.kind === 'ConfigMap' && d.data?.['agent.yaml'] !== undefined);
    expect(config).toBeDefined();
    const parsed = agentConfigSchema.safeParse(parse(config?.data?.['agent.yaml'] ?? ''));
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    const daemonSet = JSON.stringify(docs.find((d) => d.kind === 'DaemonSet'));
    expect(daemonSet).toContain('--config=/etc/edgellm/agent/agent.yaml');
    const operator = JSON.stringify(docs.find((d) => d.kind === 'Deployment'));
    for (const flag of [
      '--metrics-listen=',
      '--leader-elect=true',
      '--lease-name=',
      '--lease-duration-seconds=',
    ])
      expect(operator).toContain(flag);
  });

  it('renders pods that Pod Security admits: restricted by default, hostPath only where privileged', async () => {
    type Doc = {
      kind?: string;
      spec?: { template?: { metadata?: unknown; spec?: Record<string, unknown> } };
    };
    const podsOf = (yaml: string): Record<string, Record<string, unknown>> => {
      const pods: Record<string, Record<string, unknown>> = {};
      for (const doc of parseAllDocuments(yaml).map((d) => d.toJSON() as Doc)) {
        if ((doc.kind === 'Deployment' || doc.kind === 'DaemonSet') && doc.spec?.template) {
          pods[doc.kind] = {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: `pss-${doc.kind.toLowerCase()}` },
            spec: doc.spec.template.spec,
          };
        }
      }
      return pods;
    };
    const namespaceWith = async (level: string): Promise<string> => {
      const name = await cluster.newNamespace(`pss-${level}`);
      await cluster.applyManifests(
        stringify({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name, labels: { 'pod-security.kubernetes.io/enforce': level } },
        }),
      );
      return name;
    };
    const restricted = await namespaceWith('restricted');
    const defaults = podsOf(template(restricted, []));
    expect(Object.keys(defaults).sort()).toEqual(['DaemonSet', 'Deployment']);
    for (const pod of Object.values(defaults)) {
      await cluster.applyManifests(stringify(pod), { dryRun: true, namespace: restricted });
    }
    // hostPath model folders: rejected under baseline with the reason, admitted under privileged.
    const hostPath = podsOf(template(restricted, ['agent.modelVolume.type=hostPath'])).DaemonSet;
    const baseline = await namespaceWith('baseline');
    await expect(
      cluster.applyManifests(stringify(hostPath), { dryRun: true, namespace: baseline }),
    ).rejects.toThrow(
      /violates PodSecurity "baseline:latest": hostPath volumes \(volume "models"\)/,
    );
    const privileged = await namespaceWith('privileged');
    await cluster.applyManifests(stringify(hostPath), { dryRun: true, namespace: privileged });
  });

  it('renders the hardening values: registry, spread, extra volumes, NetworkPolicies, user roles', () => {
    const docs = parseAllDocuments(
      template(ns, [
        'global.imageRegistry=registry.example.com/mirror',
        'agent.extraVolumes[0].name=cache',
        'agent.extraVolumes[0].emptyDir.sizeLimit=1Gi',
        'agent.extraVolumeMounts[0].name=cache',
        'agent.extraVolumeMounts[0].mountPath=/cache',
        'agent.initContainers[0].name=fetch',
        'agent.initContainers[0].image=busybox',
        'operator.extraVolumes[0].name=extra',
        'operator.extraVolumes[0].emptyDir.medium=Memory',
        'operator.extraVolumeMounts[0].name=extra',
        'operator.extraVolumeMounts[0].mountPath=/extra',
      ]),
    ).map((d) => d.toJSON() as WorkloadDoc);
    const deployment = docs.find((d) => d.kind === 'Deployment')?.spec?.template?.spec;
    const daemonSet = docs.find((d) => d.kind === 'DaemonSet')?.spec?.template?.spec;
    expect(deployment?.containers[0]?.image).toBe(
      'registry.example.com/mirror/edgellm/operator:0.1.0',
    );
    expect(daemonSet?.containers[0]?.image).toBe('registry.example.com/mirror/edgellm/agent:0.1.0');
    expect(deployment?.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: {
          matchLabels: {
            'app.kubernetes.io/name': 'edgellm',
            'app.kubernetes.io/instance': 'edge',
            'app.kubernetes.io/component': 'operator',
          },
        },
      },
    ]);
    expect(daemonSet?.volumes).toContainEqual({ name: 'cache', emptyDir: { sizeLimit: '1Gi' } });
    expect(daemonSet?.volumes).toContainEqual({
      name: 'models',
      persistentVolumeClaim: { claimName: 'edge-edgellm-models', readOnly: true },
    });
    expect(daemonSet?.containers[0]?.volumeMounts).toContainEqual({
      name: 'cache',
      mountPath: '/cache',
    });
    expect(daemonSet?.initContainers).toEqual([{ name: 'fetch', image: 'busybox' }]);
    expect(deployment?.volumes).toContainEqual({ name: 'extra', emptyDir: { medium: 'Memory' } });
    expect(deployment?.containers[0]?.volumeMounts).toContainEqual({
      name: 'extra',
      mountPath: '/extra',
    });
    expect(docs.filter((d) => d.kind === 'NetworkPolicy').map((d) => d.metadata?.name)).toEqual([
      'edge-edgellm-agent',
      'edge-edgellm-operator',
    ]);
    const roles = docs.filter(
      (d) => d.kind === 'ClusterRole' && /-(view|edit)$/.test(d.metadata?.name ?? ''),
    );
    expect(
      roles.map((r) => [
        r.metadata?.name,
        Object.keys(r.metadata?.labels ?? {}).filter((l) => l.startsWith('rbac.')),
      ]),
    ).toEqual([
      [
        'edge-edgellm-view',
        [
          'rbac.authorization.k8s.io/aggregate-to-view',
          'rbac.authorization.k8s.io/aggregate-to-edit',
          'rbac.authorization.k8s.io/aggregate-to-admin',
        ],
      ],
      [
        'edge-edgellm-edit',
        [
          'rbac.authorization.k8s.io/aggregate-to-edit',
          'rbac.authorization.k8s.io/aggregate-to-admin',
        ],
      ],
    ]);
  });
});
