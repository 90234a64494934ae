// Installs the project's CustomResourceDefinitions (crds/*.yaml, when that folder exists) and
// waits until the API server serves them.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { ControlPlaneError, repoRoot } from './controlplane.js';
import { FIELD_MANAGER, serverMessage } from './cluster.js';

export const CrdDefaults = {
  establishTimeoutSeconds: 30,
  pollMilliseconds: 100,
} as const;

export const CRD_DIR = join(repoRoot, 'crds');

/** Applies the CRDs in the given YAML (server-side apply) and waits until each is Established. */
export async function applyCrds(
  kc: k8s.KubeConfig,
  yaml: string,
  source: string,
): Promise<string[]> {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const names: string[] = [];
  for (const doc of k8s.loadAllYaml(yaml) as (k8s.KubernetesObject | null)[]) {
    if (doc === null) continue;
    try {
      await objects.patch(
        doc,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        k8s.PatchStrategy.ServerSideApply,
      );
    } catch (error) {
      throw new ControlPlaneError(
        `${source}: ${doc.kind ?? '?'}/${doc.metadata?.name ?? '?'} rejected: ${serverMessage(error)}`,
      );
    }
    if (doc.kind === 'CustomResourceDefinition' && doc.metadata?.name !== undefined)
      names.push(doc.metadata.name);
  }
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  for (const name of names) {
    const deadline = performance.now() + CrdDefaults.establishTimeoutSeconds * 1000;
    for (;;) {
      const crd = await ext.readCustomResourceDefinition({ name });
      if (
        crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ===
        true
      )
        break;
      if (performance.now() > deadline) {
        throw new ControlPlaneError(
          `CRD ${name} from ${source} was not Established after ${CrdDefaults.establishTimeoutSeconds}s`,
        );
      }
      await sleep(CrdDefaults.pollMilliseconds);
    }
  }
  return names;
}

/** Installs every crds/*.yaml file; a checkout without crds/ installs nothing. */
export async function installCrds(kc: k8s.KubeConfig, dir: string = CRD_DIR): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const names: string[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    const path = join(dir, file);
    names.push(...(await applyCrds(kc, readFileSync(path, 'utf8'), path)));
  }
  return names;
}
