// The shape of a pvc:// variant, which the operator cannot read itself (it mounts no claims): a
// short-lived pod in the LLM namespace mounts the claim, runs `edgellm fetch-model --header-only`
// and reports the shape in its termination message; the probe reads it and deletes the pod.
import * as k8s from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GgufModelShape } from '../../gguf/model-shape.js';
import { FETCH_REASON, ModelFetchError, type FetchReason } from '../../model-fetch/errors.js';
import { parseModelSource } from '../../model-fetch/source.js';
import { apiStatusCode } from '../kube/api-errors.js';
import { FIELD_MANAGER } from '../kube/writes.js';
import { buildShapeProbePod } from './llm-pods.js';

export const SHAPE_PROBE_DEFAULTS = { pollMs: 2000, timeoutMs: 10 * 60_000 } as const;

export interface ShapeProbeOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly template: k8s.V1Pod;
  /** The LLM pods' namespace: a pvc:// source's claim must be there. */
  readonly namespace: string;
  readonly pollMs?: number;
  readonly timeoutMs?: number;
}

export class ShapeProbe {
  private readonly core: k8s.CoreV1Api;

  constructor(private readonly options: ShapeProbeOptions) {
    this.core = options.kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  async read(source: string, sha256: string): Promise<GgufModelShape> {
    const parsed = parseModelSource(source);
    if (parsed.kind !== 'pvc') throw new Error(`${source} is not a pvc:// source`);
    if (parsed.namespace !== this.options.namespace) {
      throw new ModelFetchError(
        FETCH_REASON.sourceNotMounted,
        `${source}: the claim must be in namespace ${this.options.namespace}, where the operator runs LLM pods (a pod mounts claims of its own namespace only)`,
      );
    }
    const pod = buildShapeProbePod({
      template: this.options.template,
      namespace: parsed.namespace,
      source,
      sha256,
    });
    const name = pod.metadata?.name ?? '';
    const namespace = this.options.namespace;
    try {
      await this.core.createNamespacedPod({ namespace, body: pod, fieldManager: FIELD_MANAGER });
    } catch (error) {
      if (apiStatusCode(error) !== 409) throw error; // 409: a probe of this file runs already
    }
    try {
      const deadline = Date.now() + (this.options.timeoutMs ?? SHAPE_PROBE_DEFAULTS.timeoutMs);
      for (;;) {
        const current = await this.core.readNamespacedPod({ name, namespace });
        const terminated = current.status?.containerStatuses?.[0]?.state?.terminated;
        if (terminated !== undefined) return reportOf(name, terminated);
        if (Date.now() > deadline) {
          throw new ModelFetchError(
            FETCH_REASON.sourceUnreachable,
            `${source}: the shape probe pod ${namespace}/${name} did not finish in time (phase ${current.status?.phase ?? '?'}; is the claim bound and mountable?)`,
          );
        }
        await sleep(this.options.pollMs ?? SHAPE_PROBE_DEFAULTS.pollMs);
      }
    } finally {
      await this.core.deleteNamespacedPod({ name, namespace }).catch(() => undefined);
    }
  }
}

/** The shape in a finished probe's termination message, or its failure as a ModelFetchError. */
function reportOf(pod: string, terminated: k8s.V1ContainerStateTerminated): GgufModelShape {
  let report: { ok?: boolean; shape?: GgufModelShape; reason?: string; message?: string };
  try {
    report = JSON.parse(terminated.message ?? '') as typeof report;
  } catch {
    throw new ModelFetchError(
      FETCH_REASON.sourceUnreachable,
      `the shape probe pod ${pod} exited with code ${terminated.exitCode} and no report${terminated.reason ? ` (${terminated.reason})` : ''}`,
    );
  }
  if (report.ok === true && report.shape !== undefined) return report.shape;
  throw new ModelFetchError(
    (report.reason ?? FETCH_REASON.sourceUnreachable) as FetchReason,
    report.message ?? `the shape probe pod ${pod} failed`,
  );
}
