// The operator's inline output limit is the CRD's bound on status.output: a larger limit would
// make the final status write fail at the API server, a smaller one would spill needlessly.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { REQUEST_DEFAULTS } from '../../../../src/operator/requests/controller.js';

interface Crd {
  spec: {
    versions: {
      schema: {
        openAPIV3Schema: {
          properties: { status: { properties: { output: { maxLength: number } } } };
        };
      };
    }[];
  };
}

describe('InferenceRequest limits', () => {
  it('keeps status.output inline up to exactly the CRD’s maxLength', () => {
    const crd = parse(readFileSync('crds/edgellm.io_inferencerequests.yaml', 'utf8')) as Crd;
    const bounds = crd.spec.versions.map(
      (v) => v.schema.openAPIV3Schema.properties.status.properties.output.maxLength,
    );
    expect(bounds).toEqual(crd.spec.versions.map(() => REQUEST_DEFAULTS.maxStatusOutputChars));
  });
});
