// An etcd that really runs out of space, and gets it back. Fillers are written until etcd's space
// quota trips its NOSPACE alarm, after which kube-apiserver refuses every write of the resources
// that etcd stores (500, `etcdserver: mvcc: database space exceeded`): ConfigMaps written through
// the API server into a namespace of their own (a neighbour's data), or, for the etcd that holds
// the API server's own objects (Leases, the InferenceRequests), keys outside the API server's
// prefix written to etcd directly (another user of the same etcd). Space comes back the way etcd's
// maintenance guide gets it back: the fillers deleted, the history compacted, the file
// defragmented, the alarm disarmed. etcd is reached over its JSON gateway (`POST /v3/...`).
import * as k8s from '@kubernetes/client-node';

/** Per object: under the API server's 1 MiB ConfigMap limit and etcd's 1.5 MiB request limit. */
const FILLER_BYTES = 900 * 1024;
/** More objects than any quota the test control plane sets could hold (256 MiB). */
const MAX_FILLERS = 400;
/** Where keys written to etcd directly go: outside the API server's /registry. */
const KEY_PREFIX = '/edgellm-filler/';

const base64 = (text: string): string => Buffer.from(text).toString('base64');

/** How fillers are written and deleted. */
interface Filler {
  /** Writes one; throws what the write threw. */
  add(name: string, data: string): Promise<void>;
  remove(names: readonly string[]): Promise<void>;
}

export interface EtcdSpaceStatus {
  readonly dbSizeBytes: number;
  readonly quotaBytes: number;
  /** Raised alarms, as etcd words them (`memberID:... alarm:NOSPACE`). */
  readonly alarms: readonly string[];
  readonly memberId: string;
  readonly revision: string;
}

export class EtcdSpace {
  private readonly fillers: string[] = [];

  private readonly filler: Filler;

  constructor(
    /** The etcd's client URL. */
    private readonly etcdUrl: string,
    /**
     * ConfigMaps through the API server that stores them in that etcd, in the neighbour's
     * namespace; without it, keys written to etcd directly.
     */
    configMaps?: { readonly core: k8s.CoreV1Api; readonly namespace: string },
  ) {
    this.filler =
      configMaps === undefined
        ? {
            add: async (name, data) => {
              await this.call('kv/put', { key: base64(KEY_PREFIX + name), value: base64(data) });
            },
            remove: async () => {
              await this.call('kv/deleterange', {
                key: base64(KEY_PREFIX),
                range_end: base64(KEY_PREFIX.slice(0, -1) + '0'),
              });
            },
          }
        : {
            add: async (name, data) => {
              await configMaps.core.createNamespacedConfigMap({
                namespace: configMaps.namespace,
                body: { metadata: { name }, data: { filler: data } },
              });
            },
            remove: async (names) => {
              await Promise.all(
                names.map((name) =>
                  configMaps.core.deleteNamespacedConfigMap({
                    namespace: configMaps.namespace,
                    name,
                  }),
                ),
              );
            },
          };
  }

  async status(): Promise<EtcdSpaceStatus> {
    const s = await this.call<{
      header: { member_id: string; revision: string };
      dbSize: string;
      dbSizeQuota: string;
      errors?: string[];
    }>('maintenance/status');
    return {
      dbSizeBytes: Number(s.dbSize),
      quotaBytes: Number(s.dbSizeQuota),
      alarms: s.errors ?? [],
      memberId: s.header.member_id,
      revision: s.header.revision,
    };
  }

  /**
   * Writes fillers until less than `headroomBytes` of the quota is left (etcd's file grows in
   * steps of up to about 5 MiB), so that `fill` then takes a few writes. Throws if etcd is full
   * already.
   */
  async prefill(headroomBytes: number): Promise<void> {
    for (;;) {
      const { dbSizeBytes, quotaBytes } = await this.status();
      if (dbSizeBytes + headroomBytes >= quotaBytes) return;
      const refusal = await this.addFiller();
      if (refusal !== undefined)
        throw new Error(`etcd at ${this.etcdUrl} filled up before its headroom: ${refusal}`);
    }
  }

  /**
   * Writes fillers until one is refused because etcd is full; returns how many
   * went in and the refusal. Throws if any other error stops it, or space never runs out.
   */
  async fill(): Promise<{ objects: number; refusal: string }> {
    for (;;) {
      const refusal = await this.addFiller();
      if (refusal !== undefined) return { objects: this.fillers.length, refusal };
    }
  }

  /** One more filler; returns the refusal (the API server's or etcd's) when etcd is full. */
  private async addFiller(): Promise<string | undefined> {
    if (this.fillers.length >= MAX_FILLERS)
      throw new Error(`etcd at ${this.etcdUrl} still had space after ${MAX_FILLERS} fillers`);
    const name = `filler-${this.fillers.length}`;
    try {
      await this.filler.add(name, 'x'.repeat(FILLER_BYTES));
      this.fillers.push(name);
      return undefined;
    } catch (error) {
      const refusal = error instanceof k8s.ApiException ? String(error.body) : String(error);
      if (!refusal.includes('database space exceeded')) throw error;
      return refusal;
    }
  }

  /** Deletes the fillers, compacts, defragments and disarms the NOSPACE alarm. */
  async reclaim(): Promise<void> {
    await this.filler.remove(this.fillers.splice(0));
    const { revision } = await this.status();
    await this.call('kv/compaction', { revision, physical: true });
    await this.call('maintenance/defragment');
    const { memberId } = await this.status();
    await this.call('maintenance/alarm', {
      action: 'DEACTIVATE',
      memberID: memberId,
      alarm: 'NOSPACE',
    });
    const after = await this.status();
    if (after.alarms.length > 0)
      throw new Error(`etcd at ${this.etcdUrl} still alarms: ${after.alarms.join(', ')}`);
  }

  private async call<T>(path: string, body: object = {}): Promise<T> {
    const res = await fetch(`${this.etcdUrl}/v3/${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  }
}
