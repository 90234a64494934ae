// EdgeNode specs for agents started on this machine (plain-text gRPC, local development only).
import type { EdgeNodeSpec } from '../../src/gen/crds/edgenode.js';

/** A node whose agent listens on `endpoint` without TLS: 8 GiB, 200 GFLOP/s, 20 MHz each way. */
export function localNodeSpec(
  endpoint: string,
  models: NonNullable<EdgeNodeSpec['models']>,
  extra: {
    readonly resources?: Partial<EdgeNodeSpec['resources']>;
    readonly scheduling?: EdgeNodeSpec['scheduling'];
  } = {},
): EdgeNodeSpec {
  return {
    agent: { endpoint, insecure: true },
    resources: {
      memoryBytes: 8 * 1024 ** 3,
      computeFlops: 2e11,
      uplinkBandwidthHz: 20e6,
      downlinkBandwidthHz: 20e6,
      ...extra.resources,
    },
    models,
    ...(extra.scheduling === undefined ? {} : { scheduling: extra.scheduling }),
  };
}
