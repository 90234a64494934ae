// What integration tests use: a client per identity for the control plane that the jest
// global setup started, a fresh namespace per test file, and manifest application (optionally
// as a server-side dry run) with the API server's own error messages.
//
//   const cluster = connectControlPlane();
//   const ns = await cluster.newNamespace('leases');
//   const core = cluster.api(k8s.CoreV1Api, Identity.operator);
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import {
  ControlPlaneError,
  FIELD_MANAGER,
  Identity,
  STATE_ENV,
  kubeConfigFor,
  serverMessage,
  type ControlPlaneState,
} from './controlplane.js';

export { Identity, applyCrds, bindOperatorRules, serverMessage } from './controlplane.js';

/** The HTTP status of a failed API request, or undefined for other errors. */
export function statusCode(error: unknown): number | undefined {
  return error instanceof k8s.ApiException ? error.code : undefined;
}

/** One or more manifests the API server rejected; each entry names the object and the reason. */
export class ManifestRejectedError extends Error {
  override name = 'ManifestRejectedError';
  constructor(
    readonly rejections: { object: string; code: number | undefined; message: string }[],
  ) {
    super(
      `the API server rejected ${rejections.length} manifest(s):\n` +
        rejections.map((r) => `  ${r.object}: ${r.message}`).join('\n'),
    );
    this.rejections = rejections;
  }
}

export interface ApplyOptions {
  /** Who applies (default admin). */
  identity?: Identity;
  /** Server-side dry run (`dryRun=All`): validated and admitted by the server, never stored. */
  dryRun?: boolean;
  /** Namespace for namespaced objects that name none. */
  namespace?: string;
}

type ApiConstructor<T extends k8s.ApiType> = new (config: k8s.Configuration) => T;

export interface Cluster {
  readonly state: ControlPlaneState;
  kubeConfig(identity?: Identity): k8s.KubeConfig;
  api<T extends k8s.ApiType>(apiClass: ApiConstructor<T>, identity?: Identity): T;
  objects(identity?: Identity): k8s.KubernetesObjectApi;
  /** Creates a namespace with a unique name (as admin). Namespaces are never deleted: there is
   * no namespace controller, and the whole store is thrown away after the run. */
  newNamespace(prefix?: string): Promise<string>;
  /** Server-side applies every document of a multi-document YAML string, in order. Throws
   * ManifestRejectedError with the server's messages when any is rejected. */
  applyManifests(yaml: string, options?: ApplyOptions): Promise<k8s.KubernetesObject[]>;
}

/** Connects to the control plane of this test run; throws if the run did not start one. */
export function connectControlPlane(): Cluster {
  const statePath = process.env[STATE_ENV];
  if (statePath === undefined || statePath === '') {
    throw new ControlPlaneError(
      `${STATE_ENV} is not set: tests that need Kubernetes must live under test/integration/ so the jest global setup starts the control plane`,
    );
  }
  return clusterFor(JSON.parse(readFileSync(statePath, 'utf8')) as ControlPlaneState);
}

/** The Cluster API over a running control plane (the node harness's too). */
export function clusterFor(state: ControlPlaneState): Cluster {
  const configs = new Map<Identity, k8s.KubeConfig>();
  const kubeConfig = (identity: Identity = Identity.admin): k8s.KubeConfig => {
    let kc = configs.get(identity);
    if (kc === undefined) {
      kc = kubeConfigFor(state, identity);
      configs.set(identity, kc);
    }
    return kc;
  };
  const objects = (identity: Identity = Identity.admin): k8s.KubernetesObjectApi =>
    k8s.KubernetesObjectApi.makeApiClient(kubeConfig(identity));

  return {
    state,
    kubeConfig,
    api: (apiClass, identity = Identity.admin) => kubeConfig(identity).makeApiClient(apiClass),
    objects,
    async newNamespace(prefix = 'test') {
      const name = `${prefix}-${randomBytes(4).toString('hex')}`;
      await kubeConfig()
        .makeApiClient(k8s.CoreV1Api)
        .createNamespace({ body: { metadata: { name } } });
      return name;
    },
    async applyManifests(yaml, options = {}) {
      const client = objects(options.identity);
      const docs = k8s.loadAllYaml(yaml) as (k8s.KubernetesObject | null)[];
      const applied: k8s.KubernetesObject[] = [];
      const rejections: ManifestRejectedError['rejections'] = [];
      for (const doc of docs) {
        if (doc === null) continue;
        const object = structuredClone(doc);
        object.metadata ??= {};
        if (object.metadata.namespace === undefined && options.namespace !== undefined) {
          object.metadata.namespace = options.namespace;
        }
        const name = `${object.kind ?? '?'}/${object.metadata.name ?? '?'}`;
        try {
          applied.push(
            await client.patch(
              object,
              undefined,
              options.dryRun === true ? 'All' : undefined,
              FIELD_MANAGER,
              true,
              k8s.PatchStrategy.ServerSideApply,
            ),
          );
        } catch (error) {
          rejections.push({
            object: name,
            code: statusCode(error),
            message: serverMessage(error),
          });
        }
      }
      if (rejections.length > 0) throw new ManifestRejectedError(rejections);
      return applied;
    },
  };
}
