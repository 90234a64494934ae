// The operator's agent clients, one per EdgeNode: where the agent is (spec.agent.endpoint, or the
// edgellm agent pod on spec.agent.nodeName) and how to reach it (mTLS with the operator's
// client certificate and the CA from the Secret spec.agent.tlsSecretRef; plain text only with
// spec.agent.insecure). A client is reused until its address or credentials change.
import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { AgentClient, type AgentTls } from '../../agent-client/client.js';
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import { APP_NAME, COMPONENT, LABELS } from '../api/constants.js';
import type { AgentConnector } from './connector.js';

export const AGENT_DEFAULTS = { port: 50051 } as const;

/** The agent cannot be reached as configured; the message says what to fix. */
export class AgentUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentUnreachableError';
  }
}

export interface AgentPoolOptions {
  readonly kubeConfig: k8s.KubeConfig;
  /** Pods by node name, from the operator's pod informer (agent discovery by nodeName). */
  readonly agentPods: () => readonly k8s.V1Pod[];
  /**
   * The name the certificates of agent pods found by nodeName carry: they are dialled by pod IP,
   * which a certificate issued before the pod existed cannot name (the chart's tls.agentServerName).
   * Absent: the pod IP must be in the certificate. Agents at spec.agent.endpoint are verified
   * against the endpoint's host.
   */
  readonly agentServerName?: string;
  /**
   * For an EdgeNode whose models placement decides: the LLM pod its agent runs in now (the newest
   * Ready one), or undefined while none is Ready. Absent: no node is placed.
   */
  readonly placedNodePod?: (edgeNode: string) => {
    readonly placed: boolean;
    readonly pod?: k8s.V1Pod;
  };
}

interface Entry {
  readonly fingerprint: string;
  readonly client: AgentClient;
}

export class AgentPool implements AgentConnector {
  private readonly core: k8s.CoreV1Api;
  private readonly clients = new Map<string, Entry>();

  constructor(private readonly options: AgentPoolOptions) {
    this.core = options.kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  async client(node: EdgeNode): Promise<AgentClient> {
    const name = node.metadata.name ?? '';
    const address = this.address(node);
    const tls = await this.tls(node);
    const fingerprint = createHash('sha256')
      .update(address)
      .update('insecure' in tls ? 'insecure' : Buffer.concat([tls.ca, tls.cert ?? Buffer.alloc(0)]))
      .digest('hex');
    const cached = this.clients.get(name);
    if (cached?.fingerprint === fingerprint) return cached.client;
    cached?.client.close();
    const client = new AgentClient({ address, tls });
    this.clients.set(name, { fingerprint, client });
    return client;
  }

  forget(nodeName: string): void {
    this.clients.get(nodeName)?.client.close();
    this.clients.delete(nodeName);
  }

  close(): void {
    for (const name of [...this.clients.keys()]) this.forget(name);
  }

  /** host:port of the node's agent. */
  address(node: EdgeNode): string {
    const agent = node.spec.agent;
    if (agent.endpoint) return agent.endpoint;
    const nodeName = agent.nodeName;
    if (!nodeName)
      throw new AgentUnreachableError('spec.agent needs endpoint (host:port) or nodeName');
    const placed = this.options.placedNodePod?.(node.metadata.name ?? '');
    if (placed?.placed === true) {
      if (!placed.pod?.status?.podIP) {
        throw new AgentUnreachableError(
          `no Ready LLM pod serves EdgeNode ${node.metadata.name ?? ''} yet: the operator makes one for the Model variants placed here (kubectl get models; kubectl get pods -l app.kubernetes.io/component=llm)`,
        );
      }
      return this.podAddress(placed.pod, agent.port);
    }
    const pod = this.options
      .agentPods()
      .find(
        (p) =>
          p.spec?.nodeName === nodeName &&
          p.metadata?.labels?.[LABELS.name] === APP_NAME &&
          p.metadata.labels[LABELS.component] === COMPONENT.agent &&
          p.status?.phase === 'Running' &&
          p.status.podIP,
      );
    if (!pod?.status?.podIP) {
      throw new AgentUnreachableError(
        `no running agent pod (labels ${LABELS.name}=${APP_NAME}, ${LABELS.component}=${COMPONENT.agent}) on Kubernetes node ${nodeName}: is the agent DaemonSet scheduled there?`,
      );
    }
    return this.podAddress(pod, agent.port);
  }

  private podAddress(pod: k8s.V1Pod, port: number | undefined): string {
    const ip = pod.status?.podIP ?? '';
    const host = ip.includes(':') ? `[${ip}]` : ip;
    return `${host}:${port ?? AGENT_DEFAULTS.port}`;
  }

  private async tls(node: EdgeNode): Promise<AgentTls> {
    const agent = node.spec.agent;
    if (agent.insecure) return { insecure: true };
    const ref = agent.tlsSecretRef;
    if (!ref) {
      throw new AgentUnreachableError(
        'spec.agent.tlsSecretRef is required unless spec.agent.insecure is true',
      );
    }
    let secret: k8s.V1Secret;
    try {
      secret = await this.core.readNamespacedSecret({ name: ref.name, namespace: ref.namespace });
    } catch (error) {
      throw new AgentUnreachableError(
        `cannot read Secret ${ref.namespace}/${ref.name} (spec.agent.tlsSecretRef): ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const data = secret.data ?? {};
    const missing = ['ca.crt', 'tls.crt', 'tls.key'].filter((k) => !data[k]);
    if (missing.length > 0) {
      throw new AgentUnreachableError(
        `Secret ${ref.namespace}/${ref.name} lacks ${missing.join(', ')}: it needs the CA that signed the agent's certificate (ca.crt) and the operator's client certificate and key (tls.crt, tls.key)`,
      );
    }
    const decode = (k: string): Buffer => Buffer.from(data[k] ?? '', 'base64');
    const material = { ca: decode('ca.crt'), cert: decode('tls.crt'), key: decode('tls.key') };
    // The agent's certificate must name the address's host (IP or DNS SAN), or, for a pod found by
    // nodeName, the configured agent server name.
    const serverName = agent.endpoint ? undefined : this.options.agentServerName;
    return serverName === undefined ? material : { ...material, serverName };
  }
}
