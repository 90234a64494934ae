// Model sources against real servers: an OCI artifact in a real registry (go-containerregistry's)
// is fetched by tag and by digest into the node cache with its checksum verified, and its shape is
// read from a Range request of the layer; a missing tag or an image without a model layer is a
// clear error.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readGgufHeader } from '../../src/gguf/header-reader.js';
import { modelShapeOf } from '../../src/gguf/model-shape.js';
import { ModelCache } from '../../src/model-fetch/cache.js';
import { FETCH_REASON } from '../../src/model-fetch/errors.js';
import { readSourceShape } from '../../src/model-fetch/shape.js';
import { parseModelSource } from '../../src/model-fetch/source.js';
import { fetchFailure } from '../support/model-fetch.js';
import { buildTinyModel } from '../../src/runtime/gguf/tiny-model.js';
import { OciRegistry } from '../support/oci-registry.js';

const model = buildTinyModel({ type: 'F32', seed: 7 });
const sha = createHash('sha256').update(model).digest('hex');
let registry: OciRegistry;
let dir: string;
let manifestDigest: string;

beforeAll(async () => {
  registry = await OciRegistry.start();
  manifestDigest = await registry.pushModel('models/tiny', 'f32', model);
  await registry.pushModel('models/two-layers', 'v1', model, 'application/octet-stream');
  dir = await mkdtemp(join(tmpdir(), 'edgellm-oci-'));
}, 60_000);
afterAll(async () => {
  registry.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('oci:// sources in a real registry', () => {
  it('fetches the model layer by tag, verified, into the cache', async () => {
    const cache = new ModelCache({ dir, maxBytes: 1e9 });
    const cached = await cache.ensure(
      sha,
      parseModelSource(`oci://${registry.address}/models/tiny:f32`),
    );
    expect(cached.downloaded).toBe(true);
    expect(Buffer.compare(await readFile(cached.path), Buffer.from(model))).toBe(0);
  });

  it('reads the shape by digest from the first bytes of the layer', async () => {
    const { shape, fileBytes } = await readSourceShape(
      parseModelSource(`oci://${registry.address}/models/tiny@${manifestDigest}`),
    );
    expect(shape).toEqual(modelShapeOf(readGgufHeader(model)));
    expect(fileBytes).toBe(model.length);
  });

  it('names a missing tag; the only layer is the model whatever its media type', async () => {
    const missing = await fetchFailure(
      readSourceShape(parseModelSource(`oci://${registry.address}/models/tiny:nope`)),
    );
    expect(missing.reason).toBe(FETCH_REASON.sourceUnreachable);
    expect(missing.message).toMatch(/manifests\/nope: the server answered 404/);
    // One layer of another media type is still the model (the only layer).
    const { shape } = await readSourceShape(
      parseModelSource(`oci://${registry.address}/models/two-layers:v1`),
    );
    expect(shape.layers).toBe(modelShapeOf(readGgufHeader(model)).layers);
  });
});
