// The seeded request mix of the operator benchmarks: the same prompts, token counts and latency
// budgets for every policy and every path that is compared, and how one becomes an InferenceRequest.
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { createRng } from '../../src/core/random.js';
import type { InferenceRequest } from '../../src/gen/crds/inferencerequest.js';
import { InferenceRequestResource } from '../../src/operator/api/constants.js';
import { PooledKubeConfig } from '../../src/operator/kube/config.js';
import type { RequestTracker } from './request-tracker.js';
import { SIM_MODEL } from './simulated-fleet.js';

export interface Load {
  readonly name: string;
  readonly prompt: string;
  readonly maxTokens: number;
  readonly budgetSeconds: number;
}

/** `count` requests from `seed`: prompt 20-400 chars, 8-48 tokens, budget 5-30 s. */
export function makeLoad(count: number, seed: number): Load[] {
  const random = createRng(seed);
  const words = 'edge nodes serve small models close to the users who ask them questions'.split(
    ' ',
  );
  return Array.from({ length: count }, (_, i) => {
    const chars = 20 + Math.floor(random() * 380);
    let prompt = '';
    while (prompt.length < chars) prompt += `${words[Math.floor(random() * words.length)] ?? ''} `;
    return {
      name: `r${String(i).padStart(5, '0')}`,
      prompt: prompt.trim(),
      maxTokens: 8 + Math.floor(random() * 41),
      budgetSeconds: 5 + Math.floor(random() * 26),
    };
  });
}

/** Creates one InferenceRequest of the simulated model for `item` in `namespace`. */
export function createLoadRequest(
  custom: k8s.CustomObjectsApi,
  namespace: string,
  item: Load,
): Promise<unknown> {
  const body: InferenceRequest = {
    apiVersion: InferenceRequestResource.apiVersion,
    kind: InferenceRequestResource.kind,
    metadata: { name: item.name, namespace },
    spec: {
      model: SIM_MODEL.name,
      prompt: item.prompt,
      maxTokens: item.maxTokens,
      latencyBudget: `${item.budgetSeconds}s`,
    },
  };
  return custom.createNamespacedCustomObject({
    group: InferenceRequestResource.group,
    version: InferenceRequestResource.version,
    plural: InferenceRequestResource.plural,
    namespace,
    body,
  });
}

/**
 * `count` API clients for creating load, each with its own pooled connections (the stock client
 * opens a connection and a TLS handshake per call, which caps creates far below what the API
 * server takes).
 */
export function createClients(kc: k8s.KubeConfig, count: number): k8s.CustomObjectsApi[] {
  return Array.from({ length: count }, () =>
    PooledKubeConfig.from(kc).makeApiClient(k8s.CustomObjectsApi),
  );
}

/**
 * Creates every item of `load` when it is due (`dueMs`, epoch ms), `concurrency` creates in
 * flight at once over `clients` (round robin), registering each with `tracker` first. A create
 * the API server refuses is no request: it leaves the tracker and is counted (the result), with
 * the error on stderr.
 */
export async function createWhenDue<L extends Load>(
  clients: readonly k8s.CustomObjectsApi[],
  namespace: string,
  tracker: RequestTracker,
  load: readonly L[],
  dueMs: (item: L, index: number) => number,
  concurrency: number,
): Promise<number> {
  let next = 0;
  let refused = 0;
  const creator = async (custom: k8s.CustomObjectsApi): Promise<void> => {
    for (;;) {
      const i = next++;
      const item = load[i];
      if (!item) return;
      const wait = dueMs(item, i) - Date.now();
      if (wait > 0) await sleep(wait);
      tracker.created(item.name, Date.now());
      await createLoadRequest(custom, namespace, item).then(
        () => {
          tracker.accepted(item.name, Date.now());
        },
        (error: unknown) => {
          tracker.requests.delete(item.name);
          refused += 1;
          process.stderr.write(`bench: create ${namespace}/${item.name}: ${String(error)}\n`);
        },
      );
    }
  };
  await Promise.all(
    Array.from({ length: concurrency }, (_, i) => clients[i % clients.length]).map((client) =>
      client ? creator(client) : Promise.resolve(),
    ),
  );
  return refused;
}
