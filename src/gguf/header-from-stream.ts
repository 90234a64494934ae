// Reads a GGUF header from a byte stream (a file, an HTTP body, a registry blob) by parsing the
// prefix received so far: it stops consuming as soon as the header parses, never holds more than
// the header limit, and re-parses only when the prefix has at least doubled or reached what the
// last attempt said it needs, so the work stays linear in the header's size.
import { GgufHeaderError, GgufTruncatedError } from './header-errors.js';
import {
  GGUF_HEADER_LIMITS,
  readGgufHeader,
  type GgufHeader,
  type GgufHeaderOptions,
} from './header-reader.js';

/** The first attempt waits for this many bytes (or the end of the stream). */
const FIRST_ATTEMPT_BYTES = 64 * 1024;

export async function readGgufHeaderFromStream(
  chunks: AsyncIterable<Uint8Array>,
  options: GgufHeaderOptions = {},
): Promise<GgufHeader> {
  const maxHeaderBytes = options.limits?.maxHeaderBytes ?? GGUF_HEADER_LIMITS.maxHeaderBytes;
  const parts: Uint8Array[] = [];
  let received = 0;
  let nextAttempt = Math.min(FIRST_ATTEMPT_BYTES, maxHeaderBytes);

  const attempt = (): GgufHeader | GgufTruncatedError => {
    const prefix = Buffer.concat(parts, received);
    try {
      return readGgufHeader(prefix, options);
    } catch (error) {
      if (error instanceof GgufTruncatedError) return error;
      throw error;
    }
  };

  for await (const chunk of chunks) {
    // Keep no more than the header may need.
    const room = maxHeaderBytes - received;
    const kept = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
    parts.push(kept);
    received += kept.byteLength;
    if (received < nextAttempt && received < maxHeaderBytes) continue;
    const result = attempt();
    if (!(result instanceof GgufTruncatedError)) return result;
    if (received >= maxHeaderBytes) {
      throw new GgufHeaderError(
        `the header is longer than the ${maxHeaderBytes}-byte limit (${result.reading} needs bytes up to ${result.neededBytes})`,
        received,
      );
    }
    nextAttempt = Math.min(maxHeaderBytes, Math.max(result.neededBytes, 2 * received));
  }
  const result = attempt();
  if (result instanceof GgufTruncatedError) {
    throw new GgufHeaderError(
      `the file ends after ${received} bytes, inside its header (${result.reading} needs bytes up to ${result.neededBytes}): the file is truncated`,
      received,
    );
  }
  return result;
}
