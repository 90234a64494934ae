// Names the operator writes into EdgeNode and InferenceRequest status (crds/ has the schemas;
// src/gen/crds/ the generated types and resource coordinates).
import { FAILURE_REASON } from '../../core/scheduler/gah.js';

export { EdgeNodeResource } from '../../gen/crds/edgenode.js';
export { InferenceRequestResource } from '../../gen/crds/inferencerequest.js';

export const PHASE = {
  pending: 'Pending',
  scheduled: 'Scheduled',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
} as const;
export type Phase = (typeof PHASE)[keyof typeof PHASE];

/** Phases a request never leaves. */
export const FINISHED_PHASES: readonly Phase[] = [PHASE.succeeded, PHASE.failed];

export const REQUEST_CONDITION = {
  scheduled: 'Scheduled',
  /** True on success (reason Succeeded) and on failure (reason: why), for `kubectl wait`. */
  completed: 'Completed',
} as const;

export const NODE_CONDITION = {
  ready: 'Ready',
  agentConnected: 'AgentConnected',
  degraded: 'Degraded',
} as const;

/** Reasons in InferenceRequest status.reason and condition reasons. */
export const REQUEST_REASON = {
  ...FAILURE_REASON,
  /** In a batch sent to an agent (phase Scheduled). */
  scheduled: 'Scheduled',
  /** Its first token streamed (phase Running). */
  running: 'Running',
  succeeded: 'Succeeded',
  /** The latency budget ran out while the request waited. */
  deadlineExceeded: 'DeadlineExceeded',
  /** The agent running the batch went away; the request goes back to Pending. */
  agentLost: 'AgentLost',
  /** The agent reported an error for this request. */
  agentError: 'AgentError',
  /** The spec cannot be read (e.g. latencyBudget is not a duration); the message says what to fix. */
  invalidSpec: 'InvalidSpec',
  /** promptFrom names a ConfigMap/Secret key that does not exist. */
  invalidPrompt: 'InvalidPrompt',
  /**
   * It ran, but its output (too long for status) could not be stored in a ConfigMap/Secret: the
   * API server refused it (its storage full, a quota, the object too large).
   */
  outputNotStored: 'OutputNotStored',
  /** Admission control: more requests of its model wait than its nodes may queue. */
  queueFull: 'QueueFull',
  /** Admission control: the queue ahead cannot drain before its latency budget runs out. */
  overloaded: 'Overloaded',
} as const;
export type RequestReason = (typeof REQUEST_REASON)[keyof typeof REQUEST_REASON];

/** Labels on the objects edgellm runs and the pods it discovers. */
export const LABELS = {
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
} as const;
export const APP_NAME = 'edgellm';
export const COMPONENT = {
  operator: 'operator',
  agent: 'agent',
  llm: 'llm',
  shapeProbe: 'shape-probe',
} as const;
