// The chaos suite (`make chaos`): a few hundred requests across two agents and two operator
// replicas (real processes, the chart's RBAC, the real control plane), one fault per scenario while
// batches run: the leader or the standby killed with SIGKILL, an agent killed mid-batch, an agent
// frozen with SIGSTOP past the heartbeat and keepalive, the link between the operators and one agent
// cut, the API server unreachable for the operators, Running requests deleted, the store where
// outputs spill full. After each: every request terminal exactly once (executions counted on the
// agent side from its own log, not from status), none stuck past its deadline plus a round, and
// how long recovery took. The table goes to stdout and .cache/chaos/results.json, the operators'
// logs to .cache/chaos/operators.log.
//
// Outputs spill: the operators keep at most OUTPUT_INLINE_CHARS in status, so nearly every output
// goes to a ConfigMap, as long outputs do. The operator has no disk of its own; a spilled output
// is a ConfigMap (a Secret for a prompt from a Secret) in the API server's storage, etcd. The
// chaos project's control plane (jest.config.js) stores ConfigMaps and Secrets in an etcd of their
// own with a 32 MiB quota (kube-apiserver's --etcd-servers-overrides), so that store can be filled
// for real (etcd's NOSPACE alarm, which etcd raises before its disk runs out) while the requests'
// own status stays writable.
//
// The etcd of everything else (the Leases, the InferenceRequests and their status) has a quota
// too (--etcd-quota-bytes): the etcd-full scenario fills both etcds at once, as the one etcd of a
// cluster that keeps everything would fill, for a few seconds (under the leader's renew deadline,
// so no new leader recovers what the refused writes left in flight), then gives the space back.
//
// Not here: faults of the real node (agent pods deleted, the kubelet restarted): test/e2e/ has
// those that need a kubelet.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { InferenceRequestResource } from '../../src/operator/api/constants.js';
import type { InferenceRequest } from '../../src/gen/crds/inferencerequest.js';
import { markdownTable } from '../../src/report/markdown.js';
import { repoRoot } from '../../src/runtime/models/catalog.js';
import { Identity } from '../harness/cluster.js';
import { executionsByRequest, type AgentProcess } from '../support/agent-process.js';
import { EtcdSpace } from '../support/etcd-space.js';
import {
  killOperator,
  startOperatorProcess,
  type OperatorProcess,
} from '../support/operator-process.js';
import { finished, OperatorEnv, ready, unique } from '../support/operator-env.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';

/** Requests per scenario (EDGELLM_CHAOS_REQUESTS; CI runs the default). */
const REQUESTS = Number(process.env['EDGELLM_CHAOS_REQUESTS'] ?? 50);
const BUDGET_SECONDS = 120;
/** A round plus the time a finished batch takes to be written. */
const GRACE_SECONDS = 15;
/** The operators' JSON logs, kept after the run for a look at what they did. */
const OPERATOR_LOG = join(repoRoot(), '.cache', 'chaos', 'operators.log');
const SCENARIO_TIMEOUT_MS = (BUDGET_SECONDS + GRACE_SECONDS + 60) * 1000;
/** How long the etcd-full scenario keeps both etcds full, and its operators' Lease. */
const HOLD_FULL_MS = 10_000;
const LEASE_SECONDS = 60;
/** The operators' inline output limit: longer outputs (nearly all here) spill into ConfigMaps. */
const OUTPUT_INLINE_CHARS = 32;

/** What a fault did that the accounting must know: requests it deleted, agents it killed. */
interface FaultOutcome {
  readonly deleted?: readonly string[];
  readonly killedAgents?: readonly AgentProcess[];
  /** For a fault that is lifted (space back): from then to the first success after it. */
  readonly liftedToSuccessSeconds?: number | null;
  /** For a fault that is lifted: seconds from the fault's start to the lift. */
  readonly liftedAfterSeconds?: number;
}

interface Row {
  readonly scenario: string;
  readonly requests: number;
  readonly inFlightAtFault: number;
  readonly succeeded: number;
  readonly failed: Readonly<Record<string, number>>;
  readonly deleted: number;
  readonly stuck: number;
  readonly ranTwice: number;
  /** Of ranTwice: requests whose first run died with its agent (SIGKILL), re-run elsewhere. */
  readonly rerunAfterAgentDeath: number;
  /** From the fault's start to the first request succeeding after it. */
  readonly firstSuccessSeconds: number | null;
  /** From the fault's start to every request of the scenario terminal. */
  readonly drainedSeconds: number | null;
  /** See FaultOutcome; undefined for faults not measured that way. */
  readonly liftedToSuccessSeconds?: number | null;
  /** From the fault lifted to every request of the scenario terminal; for lifted faults. */
  readonly liftedToDrainedSeconds?: number | null;
}

let env: OperatorEnv;
let model: string;
let apiProxy: TcpProxy;
let kubeconfigPath: string;
const agents: { name: string; agent: AgentProcess; proxy: TcpProxy }[] = [];
const deadAgents: AgentProcess[] = [];
let operators: OperatorProcess[] = [];
let operatorSerial = 0;
const rows: Row[] = [];

function startOperator(leaseDurationSeconds?: number): OperatorProcess {
  const op = startOperatorProcess({
    identity: `chaos-operator-${++operatorSerial}`,
    kubeconfig: kubeconfigPath,
    namespace: env.ns,
    logFile: OPERATOR_LOG,
    maxStatusOutputChars: OUTPUT_INLINE_CHARS,
    // Faults strike Running requests: written at the first token, not after the default second
    // (the tiny model's generations are shorter than that).
    runningStatusDelaySeconds: 0,
    ...(leaseDurationSeconds === undefined ? {} : { leaseDurationSeconds }),
  });
  operators.push(op);
  return op;
}

/** Stops the operators (SIGTERM: the leader releases its Lease) and starts two new ones. */
async function replaceOperators(leaseDurationSeconds?: number): Promise<void> {
  for (const op of operators) op.proc.kill('SIGTERM');
  await Promise.all(operators.map((op) => op.exited));
  operators = [];
  startOperator(leaseDurationSeconds);
  startOperator(leaseDurationSeconds);
  await leader();
}

async function leaseHolder(): Promise<string | undefined> {
  const lease = await env.cluster
    .api(k8s.CoordinationV1Api)
    .readNamespacedLease({ name: 'edgellm-operator', namespace: env.ns })
    .catch(() => undefined);
  return lease?.spec?.holderIdentity ?? undefined;
}

async function leader(): Promise<OperatorProcess> {
  return waitFor(
    'a leading operator',
    async () => {
      const holder = await leaseHolder();
      return operators.find((o) => o.identity === holder);
    },
    (o) => o !== undefined,
    { timeoutMs: 60_000 },
  ) as Promise<OperatorProcess>;
}

/** The agent running one of `running` (the first agent when none is known to). */
function busyAgent(running: readonly InferenceRequest[]): (typeof agents)[number] {
  const busy =
    agents.find((a) => running.some((r) => r.status?.assignment?.node === a.name)) ?? agents[0];
  if (busy === undefined) throw new Error('no agent');
  return busy;
}

async function startAgent(name: string): Promise<AgentProcess> {
  return env.startAgent(
    `${name}-${Date.now()}`,
    { [model]: env.tinyModelPath },
    { maxSequences: 8, contextTokens: 8 * 512 },
  );
}

async function list(scenario: string): Promise<InferenceRequest[]> {
  const r = (await env.custom.listNamespacedCustomObject({
    group: InferenceRequestResource.group,
    version: InferenceRequestResource.version,
    plural: InferenceRequestResource.plural,
    namespace: env.ns,
    labelSelector: `chaos=${scenario}`,
  })) as { items: InferenceRequest[] };
  return r.items;
}

/** Seconds until a request of `scenario` not Succeeded now succeeds with a spilled output. */
async function nextSpilledSuccess(scenario: string): Promise<number | null> {
  const from = Date.now();
  const before = new Set(
    (await list(scenario))
      .filter((r) => r.status?.phase === 'Succeeded')
      .map((r) => r.metadata.name),
  );
  const spilled = (r: InferenceRequest): boolean =>
    r.status?.phase === 'Succeeded' &&
    r.status.outputRef !== undefined &&
    !before.has(r.metadata.name);
  return waitFor(
    `${scenario}: a spilled output stored`,
    () => list(scenario),
    (items) => items.some(spilled),
    { timeoutMs: 60_000, intervalMs: 250 },
  ).then(
    () => (Date.now() - from) / 1000,
    () => null,
  );
}

/** The operators' log lines (parsed) written after byte `offset` of OPERATOR_LOG. */
async function operatorLinesSince(offset: number): Promise<Record<string, unknown>[]> {
  const text = (await readFile(OPERATOR_LOG)).subarray(offset).toString();
  return text.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** Tokens request `i` of a scenario generates, unless the scenario says otherwise. */
const defaultMaxTokens = (i: number): number => 48 + (i % 4) * 32;

async function createRequests(
  scenario: string,
  maxTokens: (i: number) => number,
): Promise<string[]> {
  const names: string[] = [];
  await Promise.all(
    Array.from({ length: REQUESTS }, async (_, i) => {
      const name = `${scenario}-${i}`;
      names.push(name);
      const body: InferenceRequest = {
        apiVersion: InferenceRequestResource.apiVersion,
        kind: InferenceRequestResource.kind,
        metadata: { name, namespace: env.ns, labels: { chaos: scenario } },
        spec: {
          model,
          prompt: `Request ${i}: tell a story about the edge`,
          maxTokens: maxTokens(i),
          latencyBudget: `${BUDGET_SECONDS}s`,
        },
      };
      await env.custom.createNamespacedCustomObject({
        group: InferenceRequestResource.group,
        version: InferenceRequestResource.version,
        plural: InferenceRequestResource.plural,
        namespace: env.ns,
        body,
      });
    }),
  );
  return names;
}

/**
 * Creates the scenario's requests, injects `fault` once some run, follows them to the end and
 * records the row. `fault` gets the requests in flight (Scheduled or Running) and the label value that lists the
 * scenario's requests; it returns the names it deleted (if any) and the agents it killed.
 */
async function scenario(
  name: string,
  fault: (running: InferenceRequest[], id: string) => Promise<FaultOutcome>,
  maxTokens: (i: number) => number = defaultMaxTokens,
): Promise<Row> {
  const id = unique(name);
  const started = Date.now();
  await createRequests(id, maxTokens);
  // In flight: Scheduled or Running (Running is written only for generations still streaming
  // after a second, so a short batch goes from Scheduled to its outcome).
  const isInFlight = (r: InferenceRequest): boolean =>
    ['Scheduled', 'Running'].includes(r.status?.phase ?? '');
  const running = await waitFor(
    `${name}: requests in flight`,
    () => list(id),
    (items) => items.filter(isInFlight).length >= 4,
    { timeoutMs: 90_000, intervalMs: 200 },
  );
  const inFlight = running.filter(isInFlight).length;
  const faultAt = Date.now();
  const succeededAtFault = new Set(
    running.filter((r) => r.status?.phase === 'Succeeded').map((r) => r.metadata.name),
  );
  // The fault runs (a freeze lasts 25 s) while the requests are followed.
  const progress = { faultDone: false };
  const faulted = fault(running.filter(isInFlight), id).finally(() => {
    progress.faultDone = true;
  });
  let firstSuccess: number | null = null;
  let drained: number | null = null;
  let items: InferenceRequest[];
  const deadline = started + (BUDGET_SECONDS + GRACE_SECONDS) * 1000;
  for (;;) {
    items = await list(id);
    if (
      firstSuccess === null &&
      items.some((r) => r.status?.phase === 'Succeeded' && !succeededAtFault.has(r.metadata.name))
    )
      firstSuccess = (Date.now() - faultAt) / 1000;
    if (progress.faultDone && items.every(finished)) {
      drained = (Date.now() - faultAt) / 1000;
      break;
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const outcome = await faulted;
  const deleted = new Set(outcome.deleted ?? []);
  const failed: Record<string, number> = {};
  for (const r of items)
    if (r.status?.phase === 'Failed') {
      const reason = r.status.reason ?? 'none';
      failed[reason] = (failed[reason] ?? 0) + 1;
    }
  const liveAgents = agents.map((a) => a.agent);
  const executions = executionsByRequest([...liveAgents, ...deadAgents]);
  const killed = executionsByRequest(outcome.killedAgents ?? []);
  let ranTwice = 0;
  let rerun = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const key = `${env.ns}/${id}-${i}`;
    if ((executions.get(key) ?? 0) > 1) {
      ranTwice++;
      if ((killed.get(key) ?? 0) > 0) rerun++;
    }
  }
  const row: Row = {
    scenario: name,
    requests: REQUESTS,
    inFlightAtFault: inFlight,
    succeeded: items.filter((r) => r.status?.phase === 'Succeeded').length,
    failed,
    deleted: deleted.size,
    stuck: items.filter((r) => !finished(r)).length,
    ranTwice,
    rerunAfterAgentDeath: rerun,
    firstSuccessSeconds: firstSuccess,
    drainedSeconds: drained,
    ...(outcome.liftedToSuccessSeconds === undefined
      ? {}
      : { liftedToSuccessSeconds: outcome.liftedToSuccessSeconds }),
    ...(outcome.liftedAfterSeconds === undefined
      ? {}
      : {
          liftedToDrainedSeconds: drained === null ? null : drained - outcome.liftedAfterSeconds,
        }),
  };
  rows.push(row);
  return row;
}

/** Fails `row` unless every request ended once; only `mayFail` reasons may have failed them. */
function expectExactlyOnce(row: Row, mayFail: readonly string[] = []): void {
  expect({ scenario: row.scenario, stuck: row.stuck }).toEqual({
    scenario: row.scenario,
    stuck: 0,
  });
  expect({ scenario: row.scenario, ranTwice: row.ranTwice - row.rerunAfterAgentDeath }).toEqual({
    scenario: row.scenario,
    ranTwice: 0,
  });
  // Every request ends, and with budgets this wide, ends well (or fails as the fault must).
  const allowed = Object.entries(row.failed).filter(([reason]) => mayFail.includes(reason));
  expect({
    scenario: row.scenario,
    ended: row.succeeded + row.deleted + allowed.reduce((n, [, count]) => n + count, 0),
  }).toEqual({
    scenario: row.scenario,
    ended: row.requests,
  });
}

beforeAll(async () => {
  await mkdir(dirname(OPERATOR_LOG), { recursive: true });
  await writeFile(OPERATOR_LOG, '');
  env = await OperatorEnv.create('chaos');
  model = unique('tiny');
  // The operators reach the API server through a proxy, so a scenario can take it away.
  const direct = env.cluster.kubeConfig(Identity.operator);
  const server = new URL(direct.getCurrentCluster()?.server ?? '');
  apiProxy = await TcpProxy.start(`${server.hostname}:${server.port}`);
  const viaProxy = new k8s.KubeConfig();
  viaProxy.loadFromOptions({
    clusters: direct.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${apiProxy.port}` })),
    users: direct.users,
    contexts: direct.contexts,
    currentContext: direct.currentContext,
  });
  kubeconfigPath = join(env.dir, 'operator.kubeconfig');
  await writeFile(kubeconfigPath, viaProxy.exportConfig());
  for (const name of ['edge-a', 'edge-b']) {
    const agent = await startAgent(name);
    // The operators reach each agent through a proxy with a fixed port: the link can be cut,
    // and a restarted agent is reached at the same address.
    const proxy = await TcpProxy.start(agent.address);
    const node = unique(`chaos-${name}`);
    await env.createNode(node, env.nodeSpec(proxy.address, model));
    agents.push({ name: node, agent, proxy });
  }
  startOperator();
  startOperator();
  await leader();
  for (const a of agents) await env.waitForNode(a.name, ready, 120_000);
}, 300_000);

afterAll(async () => {
  for (const op of operators) op.proc.kill('SIGKILL');
  for (const a of agents) await a.proxy.close();
  await apiProxy.close();
  if (rows.length > 0) {
    const table = markdownTable(
      [
        'scenario',
        'requests',
        'in flight at fault',
        'Succeeded',
        'Failed (by reason)',
        'deleted',
        'stuck',
        'run twice',
        'first success after fault s',
        'all ended after fault s',
        'first success after fault lifted s',
        'all ended after fault lifted s',
      ],
      rows.map((r) => [
        r.scenario,
        String(r.requests),
        String(r.inFlightAtFault),
        String(r.succeeded),
        Object.entries(r.failed)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || '0',
        String(r.deleted),
        String(r.stuck),
        r.rerunAfterAgentDeath > 0
          ? `${r.ranTwice} (${r.rerunAfterAgentDeath} re-run after their agent died)`
          : String(r.ranTwice),
        r.firstSuccessSeconds?.toFixed(1) ?? '-',
        r.drainedSeconds?.toFixed(1) ?? '-',
        r.liftedToSuccessSeconds?.toFixed(1) ?? '-',
        r.liftedToDrainedSeconds?.toFixed(1) ?? '-',
      ]),
    );
    process.stdout.write(`\nchaos: ${REQUESTS} requests per scenario\n${table}\n`);
    const dir = join(repoRoot(), '.cache', 'chaos');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'results.json'),
      JSON.stringify({ date: new Date().toISOString(), rows }, null, 2),
    );
  }
  await env.teardown();
}, 120_000);

describe('chaos: every request ends exactly once under faults', () => {
  it(
    'no fault (the baseline)',
    async () => {
      expectExactlyOnce(await scenario('baseline', () => Promise.resolve({})));
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'the leader killed with SIGKILL mid-batch',
    async () => {
      const row = await scenario('leader-sigkill', async () => {
        await killOperator(await leader());
        operators = operators.filter((o) => o.proc.exitCode === null);
        startOperator();
        return {};
      });
      expectExactlyOnce(row);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'the standby killed with SIGKILL',
    async () => {
      const row = await scenario('standby-sigkill', async () => {
        const holder = await leaseHolder();
        const standby = operators.find((o) => o.identity !== holder);
        if (standby !== undefined) await killOperator(standby);
        operators = operators.filter((o) => o.proc.exitCode === null);
        startOperator();
        return {};
      });
      expectExactlyOnce(row);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'an agent killed with SIGKILL mid-batch, restarted at the same address',
    async () => {
      const row = await scenario('agent-sigkill', async (running) => {
        const busy = busyAgent(running);
        busy.agent.proc.kill('SIGKILL');
        await busy.agent.exited;
        deadAgents.push(busy.agent);
        const killed = busy.agent;
        busy.agent = await startAgent(busy.name);
        await busy.proxy.close();
        busy.proxy = await TcpProxy.start(busy.agent.address, busy.proxy.port);
        return { killedAgents: [killed] };
      });
      expectExactlyOnce(row);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'an agent frozen with SIGSTOP for 25 s (past the heartbeat and keepalive), then resumed',
    async () => {
      const row = await scenario('agent-sigstop', async (running) => {
        const busy = busyAgent(running);
        busy.agent.proc.kill('SIGSTOP');
        await new Promise((r) => setTimeout(r, 25_000));
        busy.agent.proc.kill('SIGCONT');
        return {};
      });
      expectExactlyOnce(row);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'the link between the operators and one agent cut for 10 s',
    async () => {
      const row = await scenario('link-cut', async (running) => {
        const busy = busyAgent(running);
        await busy.proxy.cut();
        await new Promise((r) => setTimeout(r, 10_000));
        await busy.proxy.restore();
        return {};
      });
      expectExactlyOnce(row);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'the API server unreachable for the operators for 20 s',
    async () => {
      const row = await scenario('apiserver-away', async () => {
        await apiProxy.cut();
        await new Promise((r) => setTimeout(r, 20_000));
        await apiProxy.restore();
        return {};
      });
      expectExactlyOnce(row);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'Running requests deleted: they stop, their batch-mates run once',
    async () => {
      const row = await scenario('running-deleted', async (running) => {
        const victims = running.slice(0, 4).map((r) => r.metadata.name ?? '');
        await Promise.all(victims.map((n) => env.deleteRequest(n)));
        return { deleted: victims };
      });
      expectExactlyOnce(row);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'the store where outputs spill full (etcd NOSPACE) while batches finish, then space back',
    async () => {
      const store = env.cluster.state.separateEtcd;
      if (store?.resources.includes('/configmaps') !== true)
        throw new Error(
          'the control plane keeps ConfigMaps in its main etcd: run this suite as the chaos project (jest.config.js sets --separate-etcd-for)',
        );
      const space = new EtcdSpace(store.url, {
        core: env.cluster.api(k8s.CoreV1Api),
        namespace: await env.cluster.newNamespace('neighbour'),
      });
      // A neighbour's data leaves 8 MiB; the fault is the last few writes that fill it.
      await space.prefill(8 * 2 ** 20);
      let scenarioId = '';
      let filled = { objects: 0, refusal: '' };
      const timeline: string[] = [];
      const row = await scenario(
        'spill-store-full',
        async (_running, id) => {
          scenarioId = id;
          const at = Date.now();
          const mark = (what: string): void => {
            timeline.push(`${((Date.now() - at) / 1000).toFixed(1)} s ${what}`);
          };
          filled = await space.fill();
          mark(`store full (${filled.objects} ConfigMaps of 900 KiB in all)`);
          // Full until results met the refusal (at most 30 s), then the space comes back.
          await waitFor(
            'an output refused',
            () => list(id),
            (items) => items.some((r) => r.status?.reason === 'OutputNotStored'),
            { timeoutMs: 30_000, intervalMs: 250 },
          ).catch(() => undefined);
          mark('an output refused');
          await space.reclaim();
          mark('space back');
          return { liftedToSuccessSeconds: await nextSpilledSuccess(id) };
        },
        // Longer generations than the other scenarios: work is left when the space comes back.
        (i) => 240 + (i % 4) * 64,
      );
      const items = await list(scenarioId);
      const spilled = items.filter((r) => r.status?.outputRef !== undefined).length;
      process.stdout.write(
        `spill-store-full: ${timeline.join('; ')}; ${spilled} outputs spilled, ${row.succeeded - spilled} inline; the refusal: ${filled.refusal}\n`,
      );
      expect(filled.refusal).toMatch(/database space exceeded/);
      // Only the outputs that met the full store failed, each once and saying why; the rest,
      // those before the fault and after the space came back, succeeded with their ConfigMap.
      expectExactlyOnce(row, ['OutputNotStored']);
      expect(row.failed['OutputNotStored'] ?? 0).toBeGreaterThan(0);
      expect(row.liftedToSuccessSeconds).not.toBeNull();
      for (const r of items.filter((i) => i.status?.phase === 'Failed'))
        expect([r.metadata.name, r.status?.message]).toEqual([
          r.metadata.name,
          expect.stringMatching(
            /could not be stored in a ConfigMap: HTTP 500: etcdserver: mvcc: database space exceeded$/,
          ),
        ]);
      const core = env.cluster.api(k8s.CoreV1Api);
      for (const r of items.filter((i) => i.status?.outputRef !== undefined)) {
        const cm = await core.readNamespacedConfigMap({
          namespace: env.ns,
          name: r.status?.outputRef?.name ?? '',
        });
        expect(cm.data?.['output']?.length).toBeGreaterThan(OUTPUT_INLINE_CHARS);
      }
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'the one etcd holding everything full (etcd NOSPACE) for 10 s while batches finish, then space back',
    async () => {
      const { etcdUrl, etcdQuotaBytes, separateEtcd } = env.cluster.state;
      if ((etcdQuotaBytes ?? 0) === 0 || separateEtcd === undefined)
        throw new Error(
          'the control plane has no quota on its etcd: run this suite as the chaos project (jest.config.js sets --etcd-quota-bytes)',
        );
      // Both etcds full at once, as the one etcd of a cluster that keeps everything fills: the
      // Leases, the requests' status, the Events and the outputs' ConfigMaps all refused.
      const stores = [
        new EtcdSpace(etcdUrl),
        new EtcdSpace(separateEtcd.url, {
          core: env.cluster.api(k8s.CoreV1Api),
          namespace: await env.cluster.newNamespace('neighbour'),
        }),
      ];
      // Headroom past the step in which etcd's file grows (bbolt: 16 MiB at this size), so that
      // prefilling does not trip the alarm; the fault is the last few writes that fill it.
      await stores[0]?.prefill(24 * 2 ** 20);
      await stores[1]?.prefill(8 * 2 ** 20);
      // The operators here have a 4 s Lease (a renew deadline of 2.7 s) for quick failovers; the
      // fault must fit in one term, so this scenario runs them with a 60 s Lease: a renew deadline
      // of 40 s, more than a renewal period (12 s), the filling (a few seconds on a loaded
      // machine), the 10 s full and the reclaiming together.
      await replaceOperators(LEASE_SECONDS);
      let scenarioId = '';
      let refusals: string[] = [];
      let logFrom = 0;
      const timeline: string[] = [];
      const row = await scenario(
        'etcd-full',
        async (_running, id) => {
          scenarioId = id;
          logFrom = (await stat(OPERATOR_LOG)).size;
          const at = Date.now();
          const mark = (what: string): void => {
            timeline.push(`${((Date.now() - at) / 1000).toFixed(1)} s ${what}`);
          };
          refusals = (await Promise.all(stores.map((s) => s.fill()))).map((f) => f.refusal);
          mark('both etcds full');
          // Batches finish meanwhile: their final writes are refused. The leader keeps its term
          // (see above), so no leader-change recovery runs.
          await new Promise((r) => setTimeout(r, HOLD_FULL_MS));
          await Promise.all(stores.map((s) => s.reclaim()));
          mark('space back');
          return { liftedAfterSeconds: (Date.now() - at) / 1000 };
        },
        // The longest generations one sequence holds (512 tokens with the prompt): batches are
        // still running when the space runs out.
        (i) => 360 + (i % 4) * 32,
      );
      const lines = await operatorLinesSince(logFrom);
      await replaceOperators();
      const newTerms = lines.filter((l) => l['msg'] === 'started leading').length;
      const settled = new Set(
        lines
          .filter((l) => l['msg'] === 'settling stranded requests')
          .flatMap((l) => (l['requests'] as string[] | undefined) ?? [])
          .filter((k) => k.startsWith(`${env.ns}/${scenarioId}-`)),
      );
      const refused = new Set(
        lines
          .filter(
            (l) =>
              l['msg'] === 'could not record a result' || l['msg'] === 'could not record failure',
          )
          .map((l) => String(l['request'])),
      );
      process.stdout.write(
        `etcd-full: ${timeline.join('; ')}; final writes of ${refused.size} requests refused, ${settled.size} requests settled by the leader afterwards, ${newTerms} new leader terms\n`,
      );
      for (const refusal of refusals) expect(refusal).toMatch(/database space exceeded/);
      // The fault met finished batches (else it tested nothing), and with the same leader
      // throughout, the leader settled what the refused writes left in flight.
      expect(refused.size).toBeGreaterThan(0);
      expect(settled.size).toBeGreaterThan(0);
      expect(newTerms).toBe(0);
      expectExactlyOnce(row, ['OutputNotStored']);
      const items = await list(scenarioId);
      for (const r of items.filter((i) => i.status?.phase === 'Failed'))
        expect([r.metadata.name, r.status?.message]).toEqual([
          r.metadata.name,
          expect.stringMatching(
            /could not be stored in a ConfigMap: HTTP 500: .*database space exceeded$/,
          ),
        ]);
    },
    SCENARIO_TIMEOUT_MS,
  );
});
