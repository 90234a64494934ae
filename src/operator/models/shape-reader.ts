// The operator's reads of variant shapes: the GGUF header of each (source, sha256) read once over a
// Range request (src/model-fetch/shape.ts), remembered, and retried after `retrySeconds` when it
// failed (a server that was down comes back). Reads run in the background; `onRead` tells the
// controller to look again.
import type { Logger } from 'pino';
import type { GgufModelShape } from '../../gguf/model-shape.js';
import { ModelFetchError } from '../../model-fetch/errors.js';
import { readSourceShape } from '../../model-fetch/shape.js';
import { parseModelSource } from '../../model-fetch/source.js';
import { errorMessage } from '../../util/errors.js';
import type { ShapeResult } from './model-status.js';

export const SHAPE_READER_DEFAULTS = { retrySeconds: 30 } as const;

export interface ShapeReaderOptions {
  readonly insecureRegistries: readonly string[];
  readonly log: Logger;
  readonly onRead: () => void;
  readonly nowMs: () => number;
  readonly retrySeconds?: number;
  /** Reads a pvc:// source's shape where its claim is mounted (ShapeProbe); absent: cannot. */
  readonly readPvc?: (source: string, sha256: string) => Promise<GgufModelShape>;
}

export class ShapeReader {
  private readonly results = new Map<string, { result: ShapeResult; atMs: number }>();
  private readonly reading = new Set<string>();

  constructor(private readonly options: ShapeReaderOptions) {}

  /** What is known of the shape of the file at `source` with `sha256`; starts a read if needed. */
  shape(source: string, sha256: string): ShapeResult {
    const key = `${sha256} ${source}`;
    const known = this.results.get(key);
    const retryMs = (this.options.retrySeconds ?? SHAPE_READER_DEFAULTS.retrySeconds) * 1000;
    const stale = known?.result.state === 'failed' && this.options.nowMs() - known.atMs > retryMs;
    if ((known === undefined || stale) && !this.reading.has(key)) this.read(key, source, sha256);
    return known?.result ?? { state: 'reading' };
  }

  private read(key: string, source: string, sha256: string): void {
    this.reading.add(key);
    void (async (): Promise<ShapeResult> => {
      try {
        const parsed = parseModelSource(source);
        if (parsed.kind === 'pvc' && this.options.readPvc !== undefined) {
          return { state: 'known', shape: await this.options.readPvc(source, sha256) };
        }
        const { shape } = await readSourceShape(parsed, {
          insecureRegistries: this.options.insecureRegistries,
        });
        return { state: 'known', shape };
      } catch (error) {
        this.options.log.warn({ source, err: errorMessage(error) }, 'cannot read the model header');
        return error instanceof ModelFetchError
          ? { state: 'failed', reason: error.reason, message: error.message }
          : { state: 'failed', reason: 'HeaderReadFailed', message: errorMessage(error) };
      }
    })().then((result) => {
      this.results.set(key, { result, atMs: this.options.nowMs() });
      this.reading.delete(key);
      this.options.onRead();
    });
  }
}
