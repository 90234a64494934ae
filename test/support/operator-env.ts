// The operator's test environment on the real control plane: a namespace, the chart's RBAC
// bound to the operator identity, real agent processes (the built CLI) running a generated tiny
// llama, EdgeNodes and InferenceRequests, and operator Managers as the operator identity. Each
// integration test file makes one and tears it down; nothing here is a fake.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import type { EdgeNode, EdgeNodeSpec } from '../../src/gen/crds/edgenode.js';
import type {
  InferenceRequest,
  InferenceRequestSpec,
} from '../../src/gen/crds/inferencerequest.js';
import { EdgeNodeResource, InferenceRequestResource } from '../../src/operator/api/constants.js';
import { Manager, type ManagerOptions } from '../../src/operator/manager.js';
import { buildTinyModel } from '../../src/runtime/gguf/tiny-model.js';
import {
  bindOperatorRules,
  connectControlPlane,
  Identity,
  type Cluster,
} from '../harness/cluster.js';
import { startAgentProcess, writeAgentConfig, type AgentProcess } from './agent-process.js';
import { localNodeSpec } from './edge-node.js';
import { waitFor } from './wait.js';

/** The generated tiny llama's shape, as an EdgeNode spec.models entry states it. */
export const TINY = {
  quantization: 'F32',
  layers: 4,
  hiddenSize: 128,
  ffnSize: 256,
  kvWidth: 64,
  parameters: 1_200_000,
  weightBits: 32,
  perplexity: 500,
} as const;

export function unique(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

export const finished = (r: InferenceRequest): boolean =>
  r.status?.phase === 'Succeeded' || r.status?.phase === 'Failed';
export const ready = (n: EdgeNode): boolean =>
  n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

export class OperatorEnv {
  readonly agents: AgentProcess[] = [];
  readonly managers: Manager[] = [];
  private readonly nodeNames: string[] = [];
  readonly log = pino({ level: process.env['EDGELLM_TEST_LOG'] ?? 'silent' });

  private constructor(
    readonly cluster: Cluster,
    /** The test's namespace: requests, the Lease, agent pods, TLS Secrets. */
    readonly ns: string,
    /** A scratch folder: agent configs and the tiny model (tiny.gguf). */
    readonly dir: string,
    readonly custom: k8s.CustomObjectsApi,
    readonly rbacName: string,
  ) {}

  /** A new namespace and folder, the chart's RBAC bound (watching `watchNamespaces`, or all). */
  static async create(
    prefix: string,
    watchNamespaces: readonly string[] = [],
    /** Chart rule files bound only when a feature is on (e.g. node-sync-rules.yaml). */
    optionalClusterRules: readonly string[] = [],
  ): Promise<OperatorEnv> {
    const cluster = connectControlPlane();
    const ns = await cluster.newNamespace(prefix);
    const dir = await mkdtemp(join(tmpdir(), `edgellm-${prefix}-`));
    await writeFile(join(dir, 'tiny.gguf'), buildTinyModel({ type: 'F32' }));
    const rbacName = unique(`edgellm-operator-${prefix}`);
    await bindOperatorRules(
      cluster.state,
      rbacName,
      ns,
      watchNamespaces,
      undefined,
      optionalClusterRules,
    );
    return new OperatorEnv(cluster, ns, dir, cluster.api(k8s.CustomObjectsApi), rbacName);
  }

  get tinyModelPath(): string {
    return join(this.dir, 'tiny.gguf');
  }

  /** An agent process serving `models` (name -> GGUF path). */
  async startAgent(
    name: string,
    models: Readonly<Record<string, string>>,
    options: Parameters<typeof writeAgentConfig>[3] = {},
  ): Promise<AgentProcess> {
    const config = await writeAgentConfig(this.dir, `${name}.yaml`, models, options);
    const agent = await startAgentProcess(['--config', config]);
    this.agents.push(agent);
    return agent;
  }

  /** An EdgeNode for an agent reached at `endpoint` without TLS, serving the tiny `model`. */
  nodeSpec(endpoint: string, model: string): EdgeNodeSpec {
    return localNodeSpec(endpoint, [{ name: model, ...TINY }], {
      resources: { memoryBytes: 4 * 1024 ** 3, computeFlops: 5e10 },
    });
  }

  async createNode(name: string, spec: EdgeNodeSpec): Promise<void> {
    this.nodeNames.push(name);
    const body: EdgeNode = {
      apiVersion: EdgeNodeResource.apiVersion,
      kind: EdgeNodeResource.kind,
      metadata: { name },
      spec,
    };
    await this.custom.createClusterCustomObject({
      group: EdgeNodeResource.group,
      version: EdgeNodeResource.version,
      plural: EdgeNodeResource.plural,
      body,
    });
  }

  async getNode(name: string): Promise<EdgeNode> {
    return (await this.custom.getClusterCustomObject({
      group: EdgeNodeResource.group,
      version: EdgeNodeResource.version,
      plural: EdgeNodeResource.plural,
      name,
    })) as EdgeNode;
  }

  async createRequest(
    name: string,
    spec: InferenceRequestSpec,
    namespace = this.ns,
  ): Promise<void> {
    const body: InferenceRequest = {
      apiVersion: InferenceRequestResource.apiVersion,
      kind: InferenceRequestResource.kind,
      metadata: { name, namespace },
      spec,
    };
    await this.custom.createNamespacedCustomObject({
      group: InferenceRequestResource.group,
      version: InferenceRequestResource.version,
      plural: InferenceRequestResource.plural,
      namespace,
      body,
    });
  }

  async getRequest(name: string, namespace = this.ns): Promise<InferenceRequest> {
    return (await this.custom.getNamespacedCustomObject({
      group: InferenceRequestResource.group,
      version: InferenceRequestResource.version,
      plural: InferenceRequestResource.plural,
      namespace,
      name,
    })) as InferenceRequest;
  }

  async deleteRequest(name: string, namespace = this.ns): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({
      group: InferenceRequestResource.group,
      version: InferenceRequestResource.version,
      plural: InferenceRequestResource.plural,
      namespace,
      name,
    });
  }

  /** Polls the request until `ok`. */
  waitForRequest(
    name: string,
    ok: (r: InferenceRequest) => boolean,
    timeoutMs = 90_000,
  ): Promise<InferenceRequest> {
    return waitFor(`request ${name}`, () => this.getRequest(name), ok, { timeoutMs });
  }

  waitForNode(name: string, ok: (n: EdgeNode) => boolean, timeoutMs = 90_000): Promise<EdgeNode> {
    return waitFor(`node ${name}`, () => this.getNode(name), ok, { timeoutMs });
  }

  /** A Manager as the operator identity, leader-elected in the test namespace. */
  async startManager(extra: Partial<ManagerOptions> = {}): Promise<Manager> {
    const manager = new Manager({
      kubeConfig: this.cluster.kubeConfig(Identity.operator),
      log: this.log,
      metricsListen: '127.0.0.1:0',
      leaderElection: true,
      leaseNamespace: this.ns,
      agentNamespace: this.ns,
      leaseName: 'edgellm-operator',
      leaseDurationSeconds: 4,
      heartbeatSeconds: 1,
      ...extra,
    });
    this.managers.push(manager);
    await manager.start();
    return manager;
  }

  async stopManager(manager: Manager): Promise<void> {
    await manager.stop();
    this.managers.splice(this.managers.indexOf(manager), 1);
  }

  /** Stops managers and agents, deletes the EdgeNodes, removes the folder. */
  async teardown(): Promise<void> {
    for (const m of [...this.managers]) await m.stop();
    for (const a of this.agents) a.proc.kill('SIGKILL');
    for (const name of this.nodeNames)
      await this.custom
        .deleteClusterCustomObject({
          group: EdgeNodeResource.group,
          version: EdgeNodeResource.version,
          plural: EdgeNodeResource.plural,
          name,
        })
        .catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}
