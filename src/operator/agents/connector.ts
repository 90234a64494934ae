// How controllers reach an EdgeNode's agent. The EdgeNode controller's pool implements it
// (address from spec.agent.endpoint, or the agent pod on spec.agent.nodeName; mTLS material from
// the Secret spec.agent.tlsSecretRef; plain text only when spec.agent.insecure); the request
// controller dispatches batches through it.
import type { AgentClient } from '../../agent-client/client.js';
import type { EdgeNode } from '../../gen/crds/edgenode.js';

export interface AgentConnector {
  /**
   * The node's agent client, created on first use and cached per node; a new client replaces the
   * cached one when spec.agent, the discovered address or the TLS Secret changes. Rejects with an
   * error naming what to fix when the node cannot be reached as configured (no endpoint, no agent
   * pod on the node, Secret missing or without ca.crt/tls.crt/tls.key).
   */
  client(node: EdgeNode): Promise<AgentClient>;
  /** Closes and drops a node's cached client (node deleted, or its agent stopped answering). */
  forget(nodeName: string): void;
}
