// Assertions on model fetch failures (src/model-fetch/errors.ts).
import { expect } from '@jest/globals';
import { ModelFetchError } from '../../src/model-fetch/errors.js';

/** The ModelFetchError `promise` rejects with (fails the test if it resolves or rejects otherwise). */
export async function fetchFailure(promise: Promise<unknown>): Promise<ModelFetchError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelFetchError);
  return error as ModelFetchError;
}
