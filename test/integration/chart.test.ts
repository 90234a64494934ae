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
import { connectControlPlane, type Cluster } from '../harness/cluster.js';

const HELM = execFileSync('scripts/ensure-helm.sh', { encoding: 'utf8' }).trim();
const CHART = 'charts/edgellm';
const KUBE_VERSION = '1.33.0';

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
    metadata: { name: `${plural}.${group}` },
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
      ['agent.modelVolume.type=persistentVolumeClaim', /claimName/],
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
});
