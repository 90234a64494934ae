// Conditions in metav1.Condition shape, as both CRDs' status.conditions hold them. Pure.

/** A condition in metav1.Condition shape. */
export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

/** The API server's bound on a condition message (status.conditions[].message maxLength is
 *  larger; this keeps conditions readable in `kubectl describe`). */
export const CONDITION_MESSAGE_MAX = 1000;

/**
 * Sets a condition in a list: lastTransitionTime moves only when the status changes; the message
 * is cut to CONDITION_MESSAGE_MAX; observedGeneration is the generation it was set for (left out
 * when unknown). Returns a new list (conditions of other types kept).
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>,
  now: Date,
  observedGeneration?: number,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const old = i >= 0 ? list[i] : undefined;
  const merged: Condition = {
    ...next,
    message: next.message.slice(0, CONDITION_MESSAGE_MAX),
    lastTransitionTime:
      old && old.status === next.status ? old.lastTransitionTime : now.toISOString(),
    ...(observedGeneration === undefined ? {} : { observedGeneration }),
  };
  if (i >= 0) list[i] = merged;
  else list.push(merged);
  return list;
}

/** Whether `conditions` has `type` with status True. */
export function isConditionTrue(
  conditions: readonly { readonly type: string; readonly status: string }[] | undefined,
  type: string,
): boolean {
  return conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
}
