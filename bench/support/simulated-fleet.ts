// A fleet for the operator benchmarks: simulated agents (the real agent gRPC server over
// SimulatedRuntime, in this process), one EdgeNode per agent, and the real `edgellm operator`
// process against the local kube-apiserver; started together, ready when every EdgeNode is
// Ready, and torn down together.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Agent } from '../../src/agent/agent.js';
import type { LatencyCoefficients } from '../../src/core/model/calibration.js';
import { agentConfigSchema } from '../../src/agent/config.js';
import type { EdgeNode } from '../../src/gen/crds/edgenode.js';
import { EdgeNodeResource } from '../../src/operator/api/constants.js';
import { SIMULATED_DEFAULTS, SimulatedRuntime } from '../../src/runtime/simulated.js';
import { repoRoot } from '../../test/harness/controlplane.js';
import { localNodeSpec } from '../../test/support/edge-node.js';
import { freePort } from '../../test/support/net.js';
import { waitFor } from '../../test/support/wait.js';
import { procMemoryBytes } from './proc.js';

/** The model every simulated agent serves: SmolLM2-135M's shape, Q4_0. */
export const SIM_MODEL = {
  name: 'sim-135m',
  quantization: 'Q4_0',
  layers: 30,
  hiddenSize: 576,
  ffnSize: 1536,
  kvWidth: 192,
  parameters: 134_515_008,
  weightBits: 4,
  perplexity: 18,
} as const;

/** Sequences per agent, and the largest batch the EdgeNodes allow. */
export const SIM_MAX_SEQUENCES = 16;

export interface FleetOptions {
  readonly kc: k8s.KubeConfig;
  /** The admin kubeconfig file the operator process reads. */
  readonly kubeconfigPath: string;
  /** Holds the operator's Lease; the EdgeNodes are named after it. */
  readonly namespace: string;
  readonly nodes: number;
  /** EdgeNode spec.scheduling.policy. */
  readonly policy: string;
  /** More `edgellm operator` flags (e.g. --openai-listen). */
  readonly operatorArgs?: readonly string[];
  /** Node.js flags of the operator process (e.g. --cpu-prof, --cpu-prof-dir=DIR). */
  readonly operatorNodeArgs?: readonly string[];
  /**
   * Batches take this many times what the agents' calibration (and so the operator's
   * prediction) says: with a large factor a node stays busy with its first batch, a Ready node
   * that accepts no more work. Default 1.
   */
  readonly slowdown?: number;
  /**
   * Agents this many times faster than SIMULATED_DEFAULTS (calibration included, so the
   * operator predicts what they do): for a ramp whose agents must not be the limit. Default 1.
   */
  readonly speed?: number;
  /**
   * Per node (by index), how many times longer every batch takes than at `speed`, calibration
   * included: the operator knows (a slower node, not a mispredicted one). The EdgeNode's
   * computeFlops is divided by it, so GAH visits the faster nodes first. Default 1.
   */
  readonly timeFactors?: readonly number[];
  /** More EdgeNode spec.scheduling fields (e.g. urgencyHorizon), on every node. */
  readonly scheduling?: Omit<NonNullable<EdgeNode['spec']['scheduling']>, 'policy'>;
}

/** Latency coefficients with every term `factor` times longer. */
function scaledCoefficients(
  factor: number,
  { prefill, decodeStep }: LatencyCoefficients = SIMULATED_DEFAULTS.coefficients,
): LatencyCoefficients {
  return {
    prefill: {
      fixedSeconds: prefill.fixedSeconds * factor,
      perTokenSeconds: prefill.perTokenSeconds * factor,
      perTokenSquaredSeconds: prefill.perTokenSquaredSeconds * factor,
    },
    decodeStep: {
      fixedSeconds: decodeStep.fixedSeconds * factor,
      perSequenceSeconds: decodeStep.perSequenceSeconds * factor,
      perContextTokenSeconds: decodeStep.perContextTokenSeconds * factor,
    },
  };
}

/**
 * One simulated agent: the real agent gRPC server over SimulatedRuntime, in this process. Its
 * calibration is SimulatedRuntime's at `speed`, whatever `slowdown` makes it run at.
 */
async function startSimulatedAgent(slowdown = 1, speed = 1): Promise<Agent> {
  const calibrated = scaledCoefficients(1 / speed);
  const runtime = new SimulatedRuntime({ coefficients: scaledCoefficients(slowdown, calibrated) });
  const reference = new SimulatedRuntime({ coefficients: calibrated });
  const config = agentConfigSchema.parse({
    listen: '127.0.0.1:0',
    metricsListen: false,
    tls: { insecure: true },
    models: [
      {
        name: SIM_MODEL.name,
        quantization: SIM_MODEL.quantization,
        path: 'simulated',
        contextTokens: SIM_MAX_SEQUENCES * 512,
        maxSequences: SIM_MAX_SEQUENCES,
      },
    ],
    calibrateOnStart: true,
    logLevel: 'warn',
    // A slowed batch would hold a stopping agent for the default 30 s.
    ...(slowdown === 1 ? {} : { shutdownGraceSeconds: 1 }),
  });
  const agent = await Agent.start({
    config,
    runtime,
    logger: pino({ level: 'warn' }),
    registry: new Registry(),
    version: 'bench',
    calibrate: async (_runtime, model) => {
      await reference.loadModel(model);
      return reference.profile(model.name);
    },
  });
  return agent;
}

/** Waits until every one of `names` has Ready=True (`ready`), or none has (`!ready`). */
async function waitForNodes(
  custom: k8s.CustomObjectsApi,
  names: readonly string[],
  ready: boolean,
): Promise<void> {
  await waitFor(
    `${names.length} EdgeNodes ${ready ? 'Ready' : 'NotReady'}`,
    async () => {
      const list = (await custom.listClusterCustomObject({
        group: EdgeNodeResource.group,
        version: EdgeNodeResource.version,
        plural: EdgeNodeResource.plural,
      })) as { items: EdgeNode[] };
      return list.items.filter(
        (n) =>
          names.includes(n.metadata.name ?? '') &&
          (n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ??
            false) === ready,
      ).length;
    },
    (matching) => matching === names.length,
    { timeoutMs: 120_000, intervalMs: 250 },
  );
}

export class SimulatedFleet {
  private constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly agents: Agent[],
    readonly nodeNames: readonly string[],
    private readonly operator: ChildProcess | undefined,
    /** host:port of the operator's /metrics. */
    readonly operatorMetrics: string,
  ) {}

  /** The operator's pid (0 when it did not start). */
  get operatorPid(): number {
    return this.operator?.pid ?? 0;
  }

  /** Peak resident memory of the operator process (VmHWM), bytes; 0 once it is gone. */
  operatorPeakRssBytes(): number {
    const peak = procMemoryBytes(this.operatorPid, 'VmHWM');
    return Number.isNaN(peak) ? 0 : peak;
  }

  /**
   * Starts the agents, creates their EdgeNodes, starts the operator and waits until it is ready
   * and every EdgeNode is Ready. Whatever started is stopped again when a step fails.
   */
  static async start(options: FleetOptions): Promise<SimulatedFleet> {
    const { kc, namespace } = options;
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const agents: Agent[] = [];
    const nodeNames: string[] = [];
    let operator: ChildProcess | undefined;
    let port = 0;
    try {
      for (let i = 0; i < options.nodes; i++) {
        const timeFactor = options.timeFactors?.[i] ?? 1;
        const agent = await startSimulatedAgent(
          options.slowdown,
          (options.speed ?? 1) / timeFactor,
        );
        agents.push(agent);
        const name = `${namespace}-${i}`;
        nodeNames.push(name);
        const spec = localNodeSpec(agent.address, [{ ...SIM_MODEL }], {
          scheduling: {
            policy: options.policy as 'dftsp',
            maxBatchSize: SIM_MAX_SEQUENCES,
            ...options.scheduling,
          },
        });
        const node: EdgeNode = {
          apiVersion: EdgeNodeResource.apiVersion,
          kind: EdgeNodeResource.kind,
          metadata: { name },
          spec: {
            ...spec,
            resources: {
              ...spec.resources,
              computeFlops: spec.resources.computeFlops / timeFactor,
            },
          },
        };
        await custom.createClusterCustomObject({
          group: EdgeNodeResource.group,
          version: EdgeNodeResource.version,
          plural: EdgeNodeResource.plural,
          body: node,
        });
      }

      port = await freePort();
      operator = spawn(
        process.execPath,
        [
          ...(options.operatorNodeArgs ?? []),
          join(repoRoot, 'dist', 'src', 'cli', 'main.js'),
          'operator',
          '--kubeconfig',
          options.kubeconfigPath,
          '--metrics-listen',
          `127.0.0.1:${port}`,
          '--lease-namespace',
          namespace,
          '--log-level',
          'warn',
          ...(options.operatorArgs ?? []),
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      await waitFor(
        'operator /readyz',
        () =>
          fetch(`http://127.0.0.1:${port}/readyz`).then(
            (r) => r.ok,
            () => false,
          ),
        (ok) => ok,
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      await waitForNodes(custom, nodeNames, true);
      return new SimulatedFleet(kc, agents, nodeNames, operator, `127.0.0.1:${port}`);
    } catch (error) {
      await new SimulatedFleet(kc, agents, nodeNames, operator, '').stop();
      throw error;
    }
  }

  /** Stops every agent and waits until their EdgeNodes are NotReady (a heartbeat failed). */
  async stopAgents(): Promise<void> {
    await Promise.all(this.agents.splice(0).map((a) => a.shutdown()));
    await waitForNodes(this.kc.makeApiClient(k8s.CustomObjectsApi), this.nodeNames, false);
  }

  /** Freezes the operator process (SIGSTOP) for `ms`, then lets it go on (SIGCONT). */
  async freezeOperator(ms: number): Promise<void> {
    this.operator?.kill('SIGSTOP');
    await sleep(ms);
    this.operator?.kill('SIGCONT');
  }

  /**
   * Replaces agent `i` by a new one at a new address, as a rolled agent pod would be: the old
   * one drains (SIGTERM's path: its running batch finishes, queued ones are refused), its
   * EdgeNode's endpoint is patched to the new one.
   */
  async replaceAgent(i: number): Promise<void> {
    const old = this.agents[i];
    const name = this.nodeNames[i];
    if (old === undefined || name === undefined) throw new Error(`no agent ${i}`);
    await old.shutdown();
    const agent = await startSimulatedAgent();
    this.agents[i] = agent;
    await this.kc.makeApiClient(k8s.CustomObjectsApi).patchClusterCustomObject(
      {
        group: EdgeNodeResource.group,
        version: EdgeNodeResource.version,
        plural: EdgeNodeResource.plural,
        name,
        body: { spec: { agent: { endpoint: agent.address } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  /**
   * Stops the operator (SIGTERM, then SIGKILL after 20 s) and the agents; deletes the EdgeNodes.
   * Stopping again does nothing more.
   */
  async stop(): Promise<void> {
    const operator = this.operator;
    if (operator && operator.exitCode === null) {
      const exited = new Promise((resolve) => operator.once('exit', resolve));
      operator.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      operator.kill('SIGKILL');
    }
    await Promise.all(this.agents.splice(0).map((a) => a.shutdown()));
    const custom = this.kc.makeApiClient(k8s.CustomObjectsApi);
    for (const name of this.nodeNames) {
      await custom
        .deleteClusterCustomObject({
          group: EdgeNodeResource.group,
          version: EdgeNodeResource.version,
          plural: EdgeNodeResource.plural,
          name,
        })
        .catch(() => undefined);
    }
  }
}
