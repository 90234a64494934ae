// A variant's shape (src/gguf/model-shape.ts) read from the first bytes of its source: a Range
// request reads no more of a multi-gigabyte file than its header, and the stream is dropped as
// soon as the header parses.
import { GgufHeaderError, GgufShapeError } from '../gguf/header-errors.js';
import { readGgufHeaderFromStream } from '../gguf/header-from-stream.js';
import { GGUF_HEADER_LIMITS } from '../gguf/header-reader.js';
import { modelShapeOf, type GgufModelShape } from '../gguf/model-shape.js';
import { FETCH_REASON, ModelFetchError } from './errors.js';
import { openSource, type OpenOptions } from './open.js';
import type { ModelSource } from './source.js';

export interface SourceShape {
  readonly shape: GgufModelShape;
  /** Size of the whole file, when the source says. */
  readonly fileBytes?: number;
}

export async function readSourceShape(
  source: ModelSource,
  options: Omit<OpenOptions, 'firstBytes' | 'signal'> = {},
): Promise<SourceShape> {
  const abort = new AbortController();
  try {
    const opened = await openSource(source, {
      ...options,
      firstBytes: GGUF_HEADER_LIMITS.maxHeaderBytes,
      signal: abort.signal,
    });
    try {
      const header = await readGgufHeaderFromStream(opened.chunks);
      return { shape: modelShapeOf(header), ...(opened.size ? { fileBytes: opened.size } : {}) };
    } catch (error) {
      if (error instanceof GgufHeaderError || error instanceof GgufShapeError) {
        throw new ModelFetchError(FETCH_REASON.notGguf, `${opened.location}: ${error.message}`);
      }
      throw error;
    }
  } finally {
    abort.abort();
  }
}
