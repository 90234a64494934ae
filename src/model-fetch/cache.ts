// The node-local model cache: verified GGUF files named by their sha256 in one directory that every
// LLM pod on the node mounts, bounded in bytes with least-recently-used eviction (a file's mtime is
// its last use: a fetch that finds it touches it). Pods that want the same file at once share one
// download: the first takes a lock directory, the others wait for the file (a lock whose holder
// stopped refreshing it for `staleLockMs` is broken). A file is named by its checksum only after
// the checksum matched, so a name in the cache is a verified file. Evicting a file a running agent
// has open is safe: the agent keeps reading it until it closes it.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { FETCH_REASON, ModelFetchError } from './errors.js';
import { openSource, type OpenOptions } from './open.js';
import type { ModelSource } from './source.js';

export const CACHE_DEFAULTS = {
  /** A lock not refreshed for this long belongs to a fetch that died. */
  staleLockMs: 120_000,
  refreshLockMs: 15_000,
  pollMs: 500,
} as const;

export interface ModelCacheOptions {
  readonly dir: string;
  readonly maxBytes: number;
  readonly staleLockMs?: number;
}

export interface CachedModel {
  readonly path: string;
  readonly bytes: number;
  /** False when the file was in the cache already. */
  readonly downloaded: boolean;
  /** Files evicted to make room. */
  readonly evicted: readonly string[];
}

const SUFFIX = '.gguf';

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

export class ModelCache {
  constructor(private readonly options: ModelCacheOptions) {}

  pathOf(sha256: string): string {
    return join(this.options.dir, `${sha256}${SUFFIX}`);
  }

  /** The verified file for `sha256`, downloaded from `source` unless the cache has it. */
  async ensure(sha256: string, source: ModelSource, open: OpenOptions = {}): Promise<CachedModel> {
    try {
      return await this.ensureWritable(sha256, source, open);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
        throw new ModelFetchError(
          FETCH_REASON.cacheNotWritable,
          `the model cache ${this.options.dir} is not writable by uid ${process.getuid?.() ?? '?'} (${code}): make the folder writable by that user (a hostPath volume gets no fsGroup), e.g. install -d -o 1000 -g 1000 <folder>`,
        );
      }
      throw error;
    }
  }

  private async ensureWritable(
    sha256: string,
    source: ModelSource,
    open: OpenOptions,
  ): Promise<CachedModel> {
    await mkdir(this.options.dir, { recursive: true });
    const lock = join(this.options.dir, `.lock-${sha256}`);
    for (;;) {
      const hit = await this.touch(sha256);
      if (hit !== undefined)
        return { path: this.pathOf(sha256), bytes: hit, downloaded: false, evicted: [] };
      try {
        await mkdir(lock);
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) throw error;
        await this.breakIfStale(lock);
        await sleep(CACHE_DEFAULTS.pollMs);
        continue;
      }
      const refresh = setInterval(() => {
        const now = new Date();
        utimes(lock, now, now).catch(() => undefined);
      }, CACHE_DEFAULTS.refreshLockMs);
      try {
        // Another fetch may have finished between our look and our lock.
        const again = await this.touch(sha256);
        if (again !== undefined)
          return { path: this.pathOf(sha256), bytes: again, downloaded: false, evicted: [] };
        return await this.download(sha256, source, open);
      } finally {
        clearInterval(refresh);
        await rmdir(lock).catch(() => undefined);
      }
    }
  }

  /** The cached files, least recently used first. */
  async entries(): Promise<{ name: string; bytes: number; usedMs: number }[]> {
    const names = (await readdir(this.options.dir)).filter(
      (n) => n.endsWith(SUFFIX) && !n.startsWith('.'),
    );
    const entries = await Promise.all(
      names.map(async (name) => {
        try {
          const s = await stat(join(this.options.dir, name));
          return { name, bytes: s.size, usedMs: s.mtimeMs };
        } catch {
          return undefined; // evicted by another fetch meanwhile
        }
      }),
    );
    return entries
      .filter((e): e is NonNullable<typeof e> => e !== undefined)
      .sort((a, b) => a.usedMs - b.usedMs || a.name.localeCompare(b.name));
  }

  /** Deletes least recently used files (never `keep`) until `incoming` more bytes fit the bound. */
  async evict(incoming: number, keep?: string): Promise<string[]> {
    const entries = await this.entries();
    let total = entries.reduce((sum, e) => sum + e.bytes, 0);
    const evicted: string[] = [];
    for (const entry of entries) {
      if (total + incoming <= this.options.maxBytes) break;
      if (entry.name === keep) continue;
      await rm(join(this.options.dir, entry.name), { force: true });
      total -= entry.bytes;
      evicted.push(entry.name);
    }
    return evicted;
  }

  private async touch(sha256: string): Promise<number | undefined> {
    const path = this.pathOf(sha256);
    try {
      const now = new Date();
      await utimes(path, now, now);
      return (await stat(path)).size;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  private async breakIfStale(lock: string): Promise<void> {
    try {
      const age = Date.now() - (await stat(lock)).mtimeMs;
      if (age > (this.options.staleLockMs ?? CACHE_DEFAULTS.staleLockMs)) await rmdir(lock);
    } catch {
      // Gone already: the next attempt takes it.
    }
  }

  private tooSmall(bytes: number, where: string): ModelFetchError {
    return new ModelFetchError(
      FETCH_REASON.cacheTooSmall,
      `${where} has ${bytes} bytes but the model cache holds at most ${this.options.maxBytes}: raise the cache size`,
    );
  }

  private async download(
    sha256: string,
    source: ModelSource,
    open: OpenOptions,
  ): Promise<CachedModel> {
    const opened = await openSource(source, open);
    if (opened.size !== undefined && opened.size > this.options.maxBytes) {
      throw this.tooSmall(opened.size, opened.location);
    }
    const evicted = await this.evict(opened.size ?? 0);
    const partial = join(this.options.dir, `.partial-${sha256}-${process.pid}`);
    const hash = createHash('sha256');
    let bytes = 0;
    const max = this.options.maxBytes;
    const count = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        if (bytes > max) {
          done(new ModelFetchError(FETCH_REASON.cacheTooSmall, `more than ${max} bytes`));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(opened.chunks, count, createWriteStream(partial));
    } catch (error) {
      await rm(partial, { force: true });
      if (error instanceof ModelFetchError && error.reason === FETCH_REASON.cacheTooSmall) {
        throw this.tooSmall(bytes, opened.location);
      }
      if (isErrno(error, 'ENOSPC')) {
        throw new ModelFetchError(
          FETCH_REASON.cacheTooSmall,
          `the model cache's volume is full after ${bytes} bytes of ${opened.location}: give it more space or lower the cache size`,
        );
      }
      if (error instanceof ModelFetchError) throw error;
      throw new ModelFetchError(
        FETCH_REASON.sourceUnreachable,
        `${opened.location}: the download broke off after ${bytes} bytes (${(error as Error).message})`,
      );
    }
    const digest = hash.digest('hex');
    if (digest !== sha256) {
      await rm(partial, { force: true });
      throw new ModelFetchError(
        FETCH_REASON.checksumMismatch,
        `${opened.location} has sha256 ${digest} (${bytes} bytes), not the ${sha256} the Model declares: fix spec.variants[].sha256 or the source`,
      );
    }
    await rename(partial, this.pathOf(sha256));
    const more = await this.evict(0, `${sha256}${SUFFIX}`);
    return { path: this.pathOf(sha256), bytes, downloaded: true, evicted: [...evicted, ...more] };
  }
}
