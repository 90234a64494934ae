// The `edgellm operator` flags of the LLM pods (--llm-pod-template and the settings of placement
// and the node model cache), validated into the manager's LlmPodOptions.
import { readFile } from 'node:fs/promises';
import type * as k8s from '@kubernetes/client-node';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { LlmPodOptions } from '../../operator/manager.js';
import { MODEL_CONTROLLER_DEFAULTS } from '../../operator/models/controller.js';
import { LLM_POD } from '../../operator/models/llm-pods.js';
import { UserInputError } from '../../util/user-error.js';

export interface LlmPodFlags {
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
      '--placement-interval-seconds <s>',
      'how often placement is decided again without an event',
      String(MODEL_CONTROLLER_DEFAULTS.intervalSeconds),
    );
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
