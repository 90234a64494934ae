// `edgellm fetch-model`: puts one verified GGUF file into the node's model cache. The LLM pods the
// operator makes run it as an init container per variant; its last line (and the kubelet's
// termination message, which the operator reads from the pod's status) is a JSON report: the
// cached path, bytes and seconds, or the reason and message of a failure.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ModelCache } from '../../model-fetch/cache.js';
import { FETCH_REASON, ModelFetchError } from '../../model-fetch/errors.js';
import { parseModelSource } from '../../model-fetch/source.js';
import { readSourceShape } from '../../model-fetch/shape.js';
import type { GgufModelShape } from '../../gguf/model-shape.js';
import { UserInputError } from '../../util/user-error.js';

interface FetchFlags {
  readonly source: string;
  readonly sha256: string;
  readonly cacheDir?: string;
  readonly maxCacheBytes?: string;
  readonly headerOnly?: boolean;
  readonly pvcMount?: string;
  readonly insecureRegistry: readonly string[];
  readonly terminationLog: string;
}

/** What the fetch reports, in its termination message. */
export type FetchReport =
  | {
      readonly ok: true;
      readonly path: string;
      readonly bytes: number;
      readonly downloaded: boolean;
      readonly seconds: number;
      readonly evicted: readonly string[];
    }
  | { readonly ok: true; readonly shape: GgufModelShape; readonly seconds: number }
  | { readonly ok: false; readonly reason: string; readonly message: string };

function report(flags: FetchFlags, result: FetchReport): void {
  const line = JSON.stringify(result);
  process.stdout.write(`${line}\n`);
  try {
    writeFileSync(flags.terminationLog, line);
  } catch {
    // Outside a pod there is no termination log.
  }
}

export function register(program: Command): void {
  program
    .command('fetch-model')
    .description(
      "Put one GGUF file into the node-local model cache (sha256-verified, shared, LRU-bounded); the init container of the operator's LLM pods",
    )
    .requiredOption(
      '--source <source>',
      'https://..., oci://registry/repository:tag or pvc://namespace/claim/path',
    )
    .requiredOption('--sha256 <hex>', 'the sha256 the file must have')
    .option('--cache-dir <dir>', 'the node-local cache directory')
    .option('--max-cache-bytes <n>', 'bound of the cache; least recently used files are evicted')
    .option(
      '--header-only',
      "read only the GGUF header and report the model's shape (the operator's probe of pvc:// sources)",
    )
    .option('--pvc-mount <dir>', 'where the claim of a pvc:// source is mounted')
    .option(
      '--insecure-registry <host:port>',
      'a registry reached over plain HTTP (repeatable; localhost and loopback always are)',
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .option('--termination-log <file>', 'where the JSON report also goes', '/dev/termination-log')
    .action(async (flags: FetchFlags) => {
      const started = performance.now();
      try {
        if (!/^[a-f0-9]{64}$/.test(flags.sha256)) {
          throw new ModelFetchError(
            FETCH_REASON.invalidSource,
            `--sha256 ${flags.sha256} is not 64 lower-case hex digits`,
          );
        }
        const source = parseModelSource(flags.source);
        const open = {
          insecureRegistries: flags.insecureRegistry,
          ...(flags.pvcMount === undefined ? {} : { pvcMountPath: flags.pvcMount }),
        };
        const seconds = (): number => Number(((performance.now() - started) / 1000).toFixed(3));
        if (flags.headerOnly === true) {
          const { shape } = await readSourceShape(source, open);
          report(flags, { ok: true, shape, seconds: seconds() });
          return;
        }
        if (flags.cacheDir === undefined) throw new UserInputError('--cache-dir is required');
        const maxBytes = Number(flags.maxCacheBytes);
        if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
          throw new UserInputError(
            `--max-cache-bytes ${flags.maxCacheBytes} is not a positive integer`,
          );
        }
        const cache = new ModelCache({ dir: flags.cacheDir, maxBytes });
        const cached = await cache.ensure(flags.sha256, source, open);
        report(flags, { ok: true, ...cached, seconds: seconds() });
      } catch (error) {
        if (error instanceof ModelFetchError || error instanceof UserInputError) {
          report(flags, {
            ok: false,
            reason: error instanceof ModelFetchError ? error.reason : FETCH_REASON.invalidSource,
            message: error.message,
          });
          // Exit 1: the kubelet then restarts the init container with backoff, and the pod
          // never starts an agent without its model.
          throw new UserInputError(error.message, 1);
        }
        throw error;
      }
    });
}
