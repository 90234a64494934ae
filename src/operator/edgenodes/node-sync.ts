// EdgeNodes kept in step with labelled Kubernetes Nodes (edgenodes/from-node.ts): a Node that
// matches the selector gets an EdgeNode of the same name (owned by the Node, labelled
// edgellm.io/from-node), updated when the Node's resources or annotations change and deleted when
// the Node stops matching. An EdgeNode of that name that a user made is left alone.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { EdgeNodeResource, type EdgeNode } from '../../gen/crds/edgenode.js';
import { apiStatusCode } from '../kube/api-errors.js';
import type { Clock } from '../kube/clock.js';
import { Controller } from '../kube/controller.js';
import type { Informer } from '../kube/informer.js';
import { EVENT_TYPE, FIELD_MANAGER, type EventRecorder } from '../kube/writes.js';
import type { OperatorMetrics } from '../metrics.js';
import { edgeNodeSpecFromNode, FROM_NODE_LABEL, type FromNodeAgent } from './from-node.js';

export interface NodeSyncOptions {
  readonly kubeConfig: k8s.KubeConfig;
  /** Nodes that match the selector (the informer's label selector). */
  readonly nodes: Informer<k8s.V1Node>;
  readonly edgeNodes: Informer<EdgeNode>;
  readonly agent: FromNodeAgent;
  readonly events: EventRecorder;
  readonly metrics: OperatorMetrics;
  readonly log: Logger;
  readonly clock: Clock;
}

const target = {
  group: EdgeNodeResource.group,
  version: EdgeNodeResource.version,
  plural: EdgeNodeResource.plural,
};

/** Whether `made` sets a field of `current` to another value (fields the API server defaults and
 *  fields a user added, such as spec.scheduling, are kept). */
function differs(current: EdgeNode['spec'], made: EdgeNode['spec']): boolean {
  const resources = Object.entries(made.resources).some(
    ([k, v]) => current.resources[k as keyof typeof current.resources] !== v,
  );
  const agent =
    current.agent.nodeName !== made.agent.nodeName ||
    (current.agent.insecure ?? false) !== (made.agent.insecure ?? false) ||
    JSON.stringify(current.agent.tlsSecretRef) !== JSON.stringify(made.agent.tlsSecretRef);
  return resources || agent;
}

export class NodeSync {
  private readonly controller: Controller;
  private readonly api: k8s.CustomObjectsApi;

  constructor(private readonly options: NodeSyncOptions) {
    this.api = options.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.controller = new Controller({
      name: 'node-sync',
      workers: 1,
      log: options.log,
      metrics: options.metrics,
      reconcile: (name) => this.reconcile(name),
      clock: options.clock,
    });
  }

  run(signal: AbortSignal): Promise<void> {
    const enqueue = (o: k8s.KubernetesObject): void => {
      this.controller.enqueue(o.metadata?.name ?? '');
    };
    const offs = [
      this.options.nodes.on({
        add: enqueue,
        update: (_old, o) => {
          enqueue(o);
        },
        delete: enqueue,
      }),
      this.options.edgeNodes.on({
        add: enqueue,
        update: (_old, o) => {
          enqueue(o);
        },
        delete: enqueue,
      }),
    ];
    for (const n of this.options.nodes.list()) enqueue(n);
    for (const n of this.options.edgeNodes.list()) enqueue(n);
    return this.controller.run(signal).finally(() => {
      for (const off of offs) off();
    });
  }

  private async reconcile(name: string): Promise<undefined> {
    const node = this.options.nodes.get(name);
    const existing = this.options.edgeNodes.get(name);
    const ours = existing?.metadata.labels?.[FROM_NODE_LABEL] === 'true';
    if (existing !== undefined && !ours) return undefined; // a user's EdgeNode
    if (node === undefined) {
      if (existing !== undefined) await this.remove(name);
      return undefined;
    }
    const made = edgeNodeSpecFromNode(node, this.options.agent);
    if ('problem' in made) {
      this.options.log.warn(
        { node: name, problem: made.problem },
        'cannot make an EdgeNode from the Node',
      );
      this.options.events.record(node, EVENT_TYPE.warning, 'EdgeNodeNotMade', made.problem);
      return undefined;
    }
    if (existing !== undefined && !differs(existing.spec, made.spec)) return undefined;
    const body: EdgeNode = {
      apiVersion: EdgeNodeResource.apiVersion,
      kind: EdgeNodeResource.kind,
      metadata: {
        name,
        labels: { [FROM_NODE_LABEL]: 'true' },
        ownerReferences: [
          {
            apiVersion: 'v1',
            kind: 'Node',
            name,
            uid: node.metadata?.uid ?? '',
            blockOwnerDeletion: false,
          },
        ],
        ...(existing?.metadata.resourceVersion === undefined
          ? {}
          : { resourceVersion: existing.metadata.resourceVersion }),
      },
      spec: {
        ...existing?.spec,
        ...made.spec,
        resources: { ...existing?.spec.resources, ...made.spec.resources },
      },
    };
    try {
      if (existing === undefined) {
        await this.api.createClusterCustomObject({ ...target, body, fieldManager: FIELD_MANAGER });
        this.options.log.info({ node: name }, 'EdgeNode made from the Node');
      } else {
        await this.api.replaceClusterCustomObject({
          ...target,
          name,
          body,
          fieldManager: FIELD_MANAGER,
        });
      }
    } catch (error) {
      // 409: made or changed meanwhile; the informer's event brings the key back.
      if (apiStatusCode(error) !== 409) throw error;
    }
    return undefined;
  }

  private async remove(name: string): Promise<void> {
    try {
      await this.api.deleteClusterCustomObject({ ...target, name });
      this.options.log.info({ node: name }, 'EdgeNode deleted: its Node no longer matches');
    } catch (error) {
      if (apiStatusCode(error) !== 404) throw error;
    }
  }
}
