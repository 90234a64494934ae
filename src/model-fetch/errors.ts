// Why a model file could not be fetched, as a reason a Model condition and a fetch's termination
// message carry (CamelCase, stable) and a message that says what to fix.

export const FETCH_REASON = {
  /** The source string is not one edgellm understands. */
  invalidSource: 'InvalidSource',
  /** The server or registry could not be reached, or answered with an error status. */
  sourceUnreachable: 'SourceUnreachable',
  /** The file's sha256 is not the one the Model declares. */
  checksumMismatch: 'ChecksumMismatch',
  /** The file is not a GGUF model llama.cpp can run. */
  notGguf: 'NotGguf',
  /** The node's model cache cannot hold the file. */
  cacheTooSmall: 'CacheTooSmall',
  /** The cache directory cannot be written (a hostPath folder owned by root, a read-only mount). */
  cacheNotWritable: 'CacheNotWritable',
  /** The source is a PVC and this process has no mount of it. */
  sourceNotMounted: 'SourceNotMounted',
} as const;
export type FetchReason = (typeof FETCH_REASON)[keyof typeof FETCH_REASON];

export class ModelFetchError extends Error {
  constructor(
    readonly reason: FetchReason,
    message: string,
  ) {
    super(message);
    this.name = 'ModelFetchError';
  }
}
