// `make demo`: the whole system on this machine. A local kube-apiserver + etcd, the CRDs, two
// agents (the real SmolLM2-135M from PyPI on one node, a generated tiny llama on the other), the
// operator as its own process under the chart's RBAC, the example requests from
// deploy/examples plus a burst of small ones; progress while they run, a result table, one
// question through the OpenAI-compatible endpoint with the curl line it prints, and every
// process stopped on exit or Ctrl-C (`--serve`: kept running until Ctrl-C, for SDKs and curl).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { EdgeNode, EdgeNodeSpec } from '../src/gen/crds/edgenode.js';
import type { InferenceRequest } from '../src/gen/crds/inferencerequest.js';
import { EdgeNodeResource, InferenceRequestResource } from '../src/operator/api/constants.js';
import { markdownTable } from '../src/report/markdown.js';
import { REGISTRY_MODEL, registryModelPath, tinyModelPath } from '../src/runtime/models/catalog.js';
import {
  bindOperatorRules,
  Identity,
  installCrds,
  kubeConfigFor,
  repoRoot,
  startControlPlane,
  stopControlPlane,
  type RunningControlPlane,
} from '../test/harness/controlplane.js';
import { startAgentProcess, writeAgentConfig } from '../test/support/agent-process.js';
import { freePort, portIsFree } from '../test/support/net.js';
import { localNodeSpec } from '../test/support/edge-node.js';

const NAMESPACE = 'edgellm-demo';
const SMOL = 'smollm2-135m';
const TINY = 'tiny-llama';
const TIMEOUT_SECONDS = 600;
const run = promisify(execFile);

const children: ChildProcess[] = [];
let controlPlane: RunningControlPlane | undefined;
let dir: string | undefined;

async function cleanup(): Promise<void> {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await sleep(500);
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (controlPlane) await stopControlPlane(controlPlane);
  controlPlane = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
}

function nodeSpec(
  endpoint: string,
  model: NonNullable<EdgeNodeSpec['models']>[number],
): EdgeNodeSpec {
  return localNodeSpec(endpoint, [model], { scheduling: { policy: 'dftsp', maxBatchSize: 8 } });
}

function firstWords(text: string | undefined, n = 8): string {
  const words = (text ?? '').replace(/\s+/g, ' ').trim().split(' ');
  return words.slice(0, n).join(' ') + (words.length > n ? ' …' : '');
}

async function main(): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), 'edgellm-demo-'));
  console.log('1/5 starting the local control plane (kube-apiserver + etcd)');
  controlPlane = await startControlPlane();
  const admin = kubeConfigFor(controlPlane.state, Identity.admin);
  const crds = await installCrds(admin);
  console.log(`    installed ${crds.join(', ')}`);
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const custom = admin.makeApiClient(k8s.CustomObjectsApi);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  await bindOperatorRules(controlPlane.state, 'edgellm-operator', NAMESPACE);

  console.log(
    `2/5 starting two agents: ${SMOL} (SmolLM2-135M Q4_1 from PyPI) and ${TINY} (generated)`,
  );
  const [smol, tiny] = await Promise.all([
    writeAgentConfig(
      dir,
      'smol.yaml',
      { [SMOL]: registryModelPath() },
      { maxSequences: 4, quantization: 'Q4_1' },
    ).then((config) => startAgentProcess(['--config', config])),
    writeAgentConfig(
      dir,
      'tiny.yaml',
      { [TINY]: tinyModelPath('Q8_0') },
      { quantization: 'Q8_0' },
    ).then((config) => startAgentProcess(['--config', config])),
  ]);
  children.push(smol.proc, tiny.proc);
  const nodes: [string, Record<string, string>, EdgeNodeSpec][] = [
    [
      'demo-smollm2',
      { site: 'factory-2' },
      nodeSpec(smol.address, {
        name: SMOL,
        quantization: 'Q4_1',
        ...REGISTRY_MODEL.shape,
        perplexity: 17.3,
      }),
    ],
    [
      'demo-tiny',
      { site: 'lab' },
      nodeSpec(tiny.address, {
        name: TINY,
        quantization: 'Q8_0',
        layers: 4,
        hiddenSize: 128,
        ffnSize: 256,
        kvWidth: 64,
        parameters: 1_200_000,
        weightBits: 8,
        perplexity: 570,
      }),
    ],
  ];
  for (const [name, labels, spec] of nodes) {
    const body: EdgeNode = {
      apiVersion: EdgeNodeResource.apiVersion,
      kind: EdgeNodeResource.kind,
      metadata: { name, labels },
      spec,
    };
    await custom.createClusterCustomObject({ ...EdgeNodeResource, body });
  }

  console.log("3/5 starting the operator (as the identity the chart's RBAC binds)");
  const port = await freePort();
  const openaiPort = await openAiPort();
  const operator = spawn(
    process.execPath,
    [
      join(repoRoot, 'dist/src/cli/main.js'),
      'operator',
      '--kubeconfig',
      controlPlane.state.kubeconfigs[Identity.operator],
      '--metrics-listen',
      `127.0.0.1:${port}`,
      '--lease-namespace',
      NAMESPACE,
      '--agent-namespace',
      NAMESPACE,
      '--openai-listen',
      `127.0.0.1:${openaiPort}`,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  children.push(operator);
  for (;;) {
    const list = (await custom.listClusterCustomObject({ ...EdgeNodeResource })) as {
      items: EdgeNode[];
    };
    const ready = list.items.filter((n) =>
      n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    if (ready.length === nodes.length) break;
    await sleep(500);
  }
  console.log(`    both EdgeNodes Ready; operator metrics at http://127.0.0.1:${port}/metrics`);
  const baseUrl = `http://127.0.0.1:${openaiPort}/v1`;
  console.log(`    OpenAI-compatible endpoint at ${baseUrl}`);

  console.log('4/5 applying deploy/examples/inferencerequests.yaml and a burst of small requests');
  const examples = parseAllDocuments(
    readFileSync(join(repoRoot, 'deploy/examples/inferencerequests.yaml'), 'utf8'),
  ).map((d) => d.toJSON() as InferenceRequest);
  const burst: InferenceRequest[] = [
    'What is an edge node?',
    'Name a use of batching.',
    'Why quantize a model?',
    'Say hello to the factory.',
    'Count to five.',
    'What does a scheduler do?',
  ].map((prompt, i) => ({
    apiVersion: InferenceRequestResource.apiVersion,
    kind: InferenceRequestResource.kind,
    metadata: { name: `burst-${i + 1}` },
    // The tiny models have random weights and no chat template; SmolLM2 is an instruct model.
    spec:
      i < 4
        ? { model: TINY, prompt, maxTokens: 16, latencyBudget: '2m' }
        : { model: SMOL, prompt, promptFormat: 'chat', maxTokens: 16, latencyBudget: '2m' },
  }));
  for (const body of [...examples, ...burst]) {
    await custom.createNamespacedCustomObject({
      ...InferenceRequestResource,
      namespace: NAMESPACE,
      body: Object.assign(body, {
        metadata: Object.assign(body.metadata, { namespace: NAMESPACE }),
      }),
    });
  }

  const deadline = Date.now() + TIMEOUT_SECONDS * 1000;
  let items: InferenceRequest[];
  let last = '';
  for (;;) {
    items = (
      (await custom.listNamespacedCustomObject({
        ...InferenceRequestResource,
        namespace: NAMESPACE,
      })) as { items: InferenceRequest[] }
    ).items;
    const counts = new Map<string, number>();
    for (const r of items) {
      const phase = r.status?.phase ?? 'Pending';
      counts.set(phase, (counts.get(phase) ?? 0) + 1);
    }
    const line = [...counts].map(([p, n]) => `${p} ${n}`).join(', ');
    if (line !== last) console.log(`    ${line}`);
    last = line;
    if (items.every((r) => r.status?.phase === 'Succeeded' || r.status?.phase === 'Failed')) break;
    if (Date.now() > deadline) {
      console.log(`    gave up waiting after ${TIMEOUT_SECONDS}s`);
      break;
    }
    await sleep(1000);
  }

  console.log('5/5 results\n');
  const rows = items
    .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))
    .map((r) => {
      const s = r.status;
      const batch = s?.assignment
        ? `${s.assignment.batchId.slice(-6)} (${s.assignment.batchSize ?? '?'})`
        : '';
      return [
        r.metadata.name ?? '',
        s?.phase === 'Failed' ? `Failed: ${s.reason ?? ''}` : (s?.phase ?? ''),
        s?.assignment?.node ?? '',
        batch,
        s?.measured?.queueSeconds?.toFixed(2) ?? '',
        s?.predicted?.latencySeconds?.toFixed(2) ?? '',
        s?.measured?.executionSeconds?.toFixed(2) ?? '',
        s?.measured?.tokensPerSecond?.toFixed(1) ?? '',
        firstWords(s?.output),
      ];
    });
  console.log(
    markdownTable(
      [
        'request',
        'phase',
        'node',
        'batch (size)',
        'waited s',
        'predicted s',
        'measured s',
        'tokens/s',
        'output',
      ],
      rows,
    ),
  );
  const failed = items.filter((r) => r.status?.phase !== 'Succeeded');
  if (failed.length > 0) {
    console.log(`\n${failed.length} request(s) did not succeed; reasons in the table`);
    process.exitCode = 1;
  }

  console.log(`\nThe same rounds serve the OpenAI API at ${baseUrl}; this asks it:\n`);
  const curl = curlLine(baseUrl);
  console.log(`    ${curl.map(shellQuote).join(' ')}\n`);
  const answer = await askWithCurl(curl);
  console.log(`    ${answer}`);
  if (serve) {
    console.log(
      `\nServing until Ctrl-C: ${baseUrl} (models ${SMOL}, ${TINY}; no API key needed).` +
        `\n    OPENAI_BASE_URL=${baseUrl} OPENAI_API_KEY=none  # for the npm and Python SDKs`,
    );
    await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  }
}

/** 8000 as the README shows it, unless something else holds it. */
async function openAiPort(): Promise<number> {
  const wanted = Number(process.env['EDGELLM_DEMO_OPENAI_PORT'] ?? 8000);
  return (await portIsFree(wanted)) ? wanted : freePort();
}

function curlLine(baseUrl: string): string[] {
  return [
    'curl',
    '-sS',
    `${baseUrl}/chat/completions`,
    '-H',
    'content-type: application/json',
    '-d',
    JSON.stringify({
      model: SMOL,
      messages: [{ role: 'user', content: 'What is an edge node?' }],
      max_tokens: 24,
    }),
  ];
}

function shellQuote(arg: string): string {
  return /^[\w./:-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** Runs the curl line and returns the answer's text (or why there was none). */
async function askWithCurl(line: string[]): Promise<string> {
  const [command, ...args] = line;
  const { stdout } = await run(command ?? 'curl', args, { timeout: 120_000 });
  const body = JSON.parse(stdout) as {
    choices?: { message?: { content?: string } }[];
    error?: { message?: string };
  };
  if (body.error !== undefined) {
    process.exitCode = 1;
    return `error: ${body.error.message ?? stdout}`;
  }
  return `answer: ${firstWords(body.choices?.[0]?.message?.content, 24)}`;
}

const serve = process.argv.includes('--serve');
if (!serve) {
  process.once('SIGINT', () => {
    void cleanup().then(() => process.exit(130));
  });
}
main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
