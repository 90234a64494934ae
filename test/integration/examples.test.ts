// deploy/examples/ must pass the CRDs' validation as written: each file is applied with a
// server-side dry run (dryRun=All) on the test control plane, which runs the CRDs' schemas and
// CEL rules.
import { readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { connectControlPlane, type Cluster } from '../harness/cluster.js';

const DIR = 'deploy/examples';
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

let cluster: Cluster;
let ns: string;

beforeAll(async () => {
  cluster = connectControlPlane();
  ns = await cluster.newNamespace('examples');
});

describe('deploy/examples', () => {
  it('holds EdgeNode and InferenceRequest examples', () => {
    const all = files.map((f) => readFileSync(`${DIR}/${f}`, 'utf8')).join('\n');
    expect(all).toMatch(/^kind: EdgeNode$/m);
    expect(all).toMatch(/^kind: InferenceRequest$/m);
  });

  it.each(files)('%s passes the CRDs validation (server-side dry run)', async (file) => {
    const applied = await cluster.applyManifests(readFileSync(`${DIR}/${file}`, 'utf8'), {
      dryRun: true,
      namespace: ns,
    });
    expect(applied.length).toBeGreaterThan(0);
  });

  it('the dry run rejects an invalid example (the check can fail)', async () => {
    const bad = readFileSync(`${DIR}/inferencerequests.yaml`, 'utf8').replace(
      'maxTokens: 48',
      'maxTokens: 0',
    );
    await expect(cluster.applyManifests(bad, { dryRun: true, namespace: ns })).rejects.toThrow(
      /maxTokens/,
    );
  });
});
