// The Model CRD (crds/edgellm.io_models.yaml) on a real kube-apiserver: a valid Model is accepted
// with its defaults, invalid sources, checksums and pins are rejected with a message naming the
// field, status is written only through the subresource, and `kubectl get models` has its columns.
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { ModelResource, type Model, type ModelSpec } from '../../src/gen/crds/model.js';
import { REGISTRY_MODEL } from '../../src/runtime/models/catalog.js';
import { connectControlPlane, serverMessage, type Cluster } from '../harness/cluster.js';
import { serverTable } from '../support/server-table.js';

let cluster: Cluster;
let custom: k8s.CustomObjectsApi;
let serial = 0;
const run = Math.random().toString(16).slice(2, 8);

beforeAll(() => {
  cluster = connectControlPlane();
  custom = cluster.api(k8s.CustomObjectsApi);
});

function uniqueName(prefix: string): string {
  serial += 1;
  return `${prefix}-${run}-${serial}`;
}

const SHA = REGISTRY_MODEL.fileSha256;

const validSpec: ModelSpec = {
  variants: [
    {
      quantization: 'Q4_1',
      source: 'https://models.example.com/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
      sha256: SHA,
    },
    { quantization: 'Q8_0', source: 'oci://registry.local:5000/models/smollm2:q8_0', sha256: SHA },
    { quantization: 'F16', source: 'pvc://models/model-store/smollm2/f16.gguf', sha256: SHA },
  ],
  pins: [{ quantization: 'Q4_1', edgeNode: 'jetson-1' }],
};

function model(spec: unknown, name = uniqueName('model')): Model {
  return {
    apiVersion: ModelResource.apiVersion,
    kind: ModelResource.kind,
    metadata: { name },
    spec: spec as ModelSpec,
  };
}

const target = { group: ModelResource.group, version: ModelResource.version };

async function create(m: Model): Promise<Model> {
  return (await custom.createClusterCustomObject({
    ...target,
    plural: ModelResource.plural,
    body: m,
  })) as Model;
}

async function rejectionMessage(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return serverMessage(error);
  }
  throw new Error('expected the API server to reject the object, but it was accepted');
}

/** validSpec with its first variant replaced by `patch` merged over it. */
function withFirstVariant(patch: Record<string, unknown>): unknown {
  const [first, ...rest] = validSpec.variants;
  return { ...validSpec, variants: [{ ...first, ...patch }, ...rest] };
}

describe('Model', () => {
  it('is cluster-scoped and accepts URL, OCI and PVC sources, filling in kvBits', async () => {
    expect(ModelResource.namespaced).toBe(false);
    const created = await create(model(validSpec));
    expect(created.spec.variants.map((v) => v.kvBits)).toEqual([16, 16, 16]);
    expect(created.spec.pins).toEqual(validSpec.pins);
  });

  it('accepts an OCI source by digest and an http URL with a port and query', async () => {
    await create(
      model(
        withFirstVariant({
          source: `oci://ghcr.io/acme/llm/smollm2@sha256:${'a'.repeat(64)}`,
        }),
      ),
    );
    await create(
      model(withFirstVariant({ source: 'http://127.0.0.1:8080/files/model.gguf?token=abc' })),
    );
  });

  const SOURCE_FIELD = 'spec.variants[0]';
  const bad: [string, unknown, string[]][] = [
    [
      'an unknown scheme',
      withFirstVariant({ source: 'hf://HuggingFaceTB/SmolLM2-135M' }),
      [SOURCE_FIELD, 'spec.variants[].source must start with https://, http://, oci:// or pvc://'],
    ],
    [
      'a URL with a space',
      withFirstVariant({ source: 'https://example.com/my model.gguf' }),
      [SOURCE_FIELD, 'spec.variants[].source: an http(s) source must be a URL'],
    ],
    [
      'an OCI reference without a tag',
      withFirstVariant({ source: 'oci://registry.local/models/smollm2' }),
      [SOURCE_FIELD, 'spec.variants[].source: an OCI source must be oci://registry[:port]/'],
    ],
    [
      'an OCI repository in upper case',
      withFirstVariant({ source: 'oci://registry.local/Models/smollm2:latest' }),
      [SOURCE_FIELD, 'an OCI source must be'],
    ],
    [
      'a PVC source without a path',
      withFirstVariant({ source: 'pvc://models/model-store' }),
      [SOURCE_FIELD, 'spec.variants[].source: a PVC source must be pvc://<namespace>/<claim>/'],
    ],
    [
      'a PVC path escaping the volume',
      withFirstVariant({ source: 'pvc://models/model-store/../etc/passwd' }),
      [SOURCE_FIELD, 'spec.variants[].source: a PVC path may not contain . or .. segments'],
    ],
    [
      'a short sha256',
      withFirstVariant({ sha256: 'abc123' }),
      ['spec.variants[0].sha256', 'should match'],
    ],
    [
      'an upper-case sha256',
      withFirstVariant({ sha256: SHA.toUpperCase() }),
      ['spec.variants[0].sha256'],
    ],
    ['no sha256', withFirstVariant({ sha256: undefined }), ['spec.variants[0].sha256: Required']],
    ['no variants', { variants: [] }, ['spec.variants']],
    [
      'two variants with one quantization',
      { variants: [validSpec.variants[0], validSpec.variants[0]] },
      ['spec.variants[1]: Duplicate value'],
    ],
    [
      'a pin naming no variant',
      { ...validSpec, pins: [{ quantization: 'Q2_K', edgeNode: 'jetson-1' }] },
      ['each spec.pins[].quantization must name one of spec.variants[].quantization'],
    ],
    [
      'a pin on an invalid node name',
      { ...validSpec, pins: [{ quantization: 'Q4_1', edgeNode: 'Jetson_1' }] },
      ['spec.pins[0].edgeNode'],
    ],
    ['a zero kvBits', withFirstVariant({ kvBits: 0 }), ['spec.variants[0].kvBits']],
  ];
  it.each(bad)('rejects %s, naming the field', async (_what, spec, messages) => {
    const message = await rejectionMessage(create(model(spec)));
    for (const m of messages) expect(message).toContain(m);
  });

  it('rejects a name that requests could not ask for', async () => {
    expect(await rejectionMessage(create(model(validSpec, 'SmolLM2_135M')))).toContain(
      'metadata.name',
    );
  });

  it('takes status only through the subresource and shows it in kubectl get', async () => {
    const name = uniqueName('status');
    await create(model(validSpec, name));
    const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    const object = { ...target, plural: ModelResource.plural, name };
    const status: Model['status'] = {
      observedGeneration: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          observedGeneration: 1,
          lastTransitionTime: '2026-01-01T00:00:00Z',
          reason: 'Serving',
          message: 'every placed variant serves',
        },
      ],
      variants: [
        {
          quantization: 'Q4_1',
          shape: {
            architecture: 'llama',
            ...REGISTRY_MODEL.shape,
            contextLength: 8192,
            chatTemplate: true,
          },
          perplexity: 17.2,
          edgeNodes: ['jetson-1'],
        },
      ],
      summary: { variants: 'Q4_1,Q8_0,F16', servedOn: 'Q4_1@jetson-1', readyPods: 1 },
    };
    const ignored = (await custom.patchClusterCustomObject(
      { ...object, body: { status } },
      mergePatch,
    )) as Model;
    expect(ignored.status).toBeUndefined();
    const written = (await custom.patchClusterCustomObjectStatus(
      { ...object, body: { status } },
      mergePatch,
    )) as Model;
    expect(written.status).toEqual(status);

    const table = await serverTable(
      cluster.kubeConfig(),
      `/apis/${ModelResource.group}/${ModelResource.version}/${ModelResource.plural}/${name}`,
    );
    expect(table.columnDefinitions.map((c) => c.name)).toEqual([
      'Name',
      'Variants',
      'Served-On',
      'Pods',
      'Ready',
      'Parameters',
      'Context',
      'Age',
    ]);
    expect(table.rows[0]?.cells.slice(0, 7)).toEqual([
      name,
      'Q4_1,Q8_0,F16',
      'Q4_1@jetson-1',
      1,
      'True',
      REGISTRY_MODEL.shape.parameters,
      8192,
    ]);

    const resources = await custom.getAPIResources(target);
    expect(resources.resources.find((r) => r.name === 'models')?.shortNames).toEqual(['llm']);
  });
});
