// Model sources as the fetch parses them: the three kinds the CRD admits, and a message naming
// the accepted forms for anything else.
import { describe, expect, it } from '@jest/globals';
import { FETCH_REASON, ModelFetchError } from '../../../src/model-fetch/errors.js';
import { parseModelSource } from '../../../src/model-fetch/source.js';

describe('parseModelSource', () => {
  it('reads http(s), OCI tag and digest, and PVC sources', () => {
    expect(parseModelSource('https://models.example.com/a/b.gguf')).toEqual({
      kind: 'http',
      url: 'https://models.example.com/a/b.gguf',
    });
    expect(parseModelSource('oci://127.0.0.1:5000/models/smollm2:q4_1')).toEqual({
      kind: 'oci',
      registry: '127.0.0.1:5000',
      repository: 'models/smollm2',
      reference: 'q4_1',
    });
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(parseModelSource(`oci://ghcr.io/org/model@${digest}`)).toMatchObject({
      reference: digest,
    });
    expect(parseModelSource('pvc://models/store/smollm2/f16.gguf')).toEqual({
      kind: 'pvc',
      namespace: 'models',
      claim: 'store',
      path: 'smollm2/f16.gguf',
    });
  });

  it.each([
    'ftp://host/x.gguf',
    'oci://Registry/UPPER:tag',
    'pvc://ns/claim',
    'pvc://ns/claim/../x',
    '/local/file.gguf',
  ])('rejects %s with the accepted forms', (source) => {
    let error: unknown;
    try {
      parseModelSource(source);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelFetchError);
    expect((error as ModelFetchError).reason).toBe(FETCH_REASON.invalidSource);
  });
});
