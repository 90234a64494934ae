// The `edgellm operator` flags of the LLM pods (--llm-pod-template and the settings of placement
// and the node model cache), validated into the manager's LlmPodOptions.
import { readFile } from 'node:fs/promises';
import type * as k8s from '@kubernetes/client-node';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { LlmPodOptions } from '../../operator/manager.js';
import { MODEL_CONTROLLER_DEFAULTS } from '../../operator/models/controller.js';
import { LLM_POD } from '../../operator/models/llm-pods.js';
import type { FromNodeAgent } from '../../operator/edgenodes/from-node.js';
import { UserInputError } from '../../util/user-error.js';

export interface LlmPodFlags {
  readonly edgeNodesFromNodes?: string;
  readonly edgeNodeTlsSecret?: string;
  readonly llmPodTemplate?: string;
  readonly llmNamespace?: string;
  readonly agentNamespace?: string;
  readonly modelCacheBytes: string;
  readonly insecureRegistry: readonly string[];
  readonly placementIntervalSeconds: string;
}

export function addLlmPodFlags(command: Command): Command {
  return command
    .option(
      '--llm-pod-template <file>',
      `YAML Pod the LLM pods are made from (a container "${LLM_POD.agentContainer}" running the agent, a volume "${LLM_POD.cacheVolume}" for the node model cache); without it no LLM pods are made`,
    )
    .option(
      '--llm-namespace <ns>',
      'namespace of the LLM pods (default: --agent-namespace, else $POD_NAMESPACE, else default)',
    )
    .option(
      '--model-cache-bytes <n>',
      "bound of each node's model cache; least recently used files are evicted",
      String(MODEL_CONTROLLER_DEFAULTS.maxCacheBytes),
    )
    .option(
      '--insecure-registry <host:port>',
      'an OCI registry reached over plain HTTP (repeatable; localhost and loopback always are)',
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .option(
      '--edge-nodes-from-nodes <label-selector>',
      'make an EdgeNode (no spec.models: placed by the operator) for every Node this label selector matches, e.g. edgellm.io/llm-node=true',
    )
    .option(
      '--edge-node-tls-secret <ns/name>',
      'the operator client TLS Secret those EdgeNodes name in spec.agent.tlsSecretRef (without it: spec.agent.insecure)',
    )
    .option(
      '--placement-interval-seconds <s>',
      'how often placement is decided again without an event',
      String(MODEL_CONTROLLER_DEFAULTS.intervalSeconds),
    );
}

/** --edge-nodes-from-nodes and --edge-node-tls-secret as the manager's option. */
export function edgeNodesFromNodesOption(
  flags: LlmPodFlags,
): { labelSelector: string; agent: FromNodeAgent } | undefined {
  if (flags.edgeNodesFromNodes === undefined) return undefined;
  if (flags.edgeNodeTlsSecret === undefined)
    return { labelSelector: flags.edgeNodesFromNodes, agent: { insecure: true } };
  const [namespace, name, ...rest] = flags.edgeNodeTlsSecret.split('/');
  if (
    namespace === undefined ||
    name === undefined ||
    rest.length > 0 ||
    namespace === '' ||
    name === ''
  )
    throw new UserInputError(
      `--edge-node-tls-secret must be namespace/name, got ${flags.edgeNodeTlsSecret}`,
    );
  return { labelSelector: flags.edgeNodesFromNodes, agent: { tlsSecretRef: { namespace, name } } };
}

export async function llmPodOptions(flags: LlmPodFlags): Promise<LlmPodOptions | undefined> {
  if (flags.llmPodTemplate === undefined) return undefined;
  let template: k8s.V1Pod;
  try {
    template = parseYaml(await readFile(flags.llmPodTemplate, 'utf8')) as k8s.V1Pod;
  } catch (error) {
    throw new UserInputError(
      `--llm-pod-template ${flags.llmPodTemplate}: ${(error as Error).message}`,
    );
  }
  const containers = (template as k8s.V1Pod | null | undefined)?.spec?.containers ?? [];
  if (!containers.some((c) => c.name === LLM_POD.agentContainer))
    throw new UserInputError(
      `--llm-pod-template ${flags.llmPodTemplate}: spec.containers needs a container named ${LLM_POD.agentContainer} (the agent)`,
    );
  if (!(template.spec?.volumes ?? []).some((v) => v.name === LLM_POD.cacheVolume))
    throw new UserInputError(
      `--llm-pod-template ${flags.llmPodTemplate}: spec.volumes needs a volume named ${LLM_POD.cacheVolume} (the node-local model cache, e.g. a hostPath)`,
    );
  const maxCacheBytes = Number(flags.modelCacheBytes);
  if (!Number.isSafeInteger(maxCacheBytes) || maxCacheBytes < 1)
    throw new UserInputError(
      `--model-cache-bytes must be a positive integer, got ${flags.modelCacheBytes}`,
    );
  const interval = Number(flags.placementIntervalSeconds);
  if (!Number.isFinite(interval) || interval < 1)
    throw new UserInputError(
      `--placement-interval-seconds must be a number >= 1, got ${flags.placementIntervalSeconds}`,
    );
  return {
    template,
    namespace:
      flags.llmNamespace ?? flags.agentNamespace ?? process.env['POD_NAMESPACE'] ?? 'default',
    maxCacheBytes,
    insecureRegistries: flags.insecureRegistry,
    placementIntervalSeconds: interval,
  };
}
