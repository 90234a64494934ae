// A model source opened as a byte stream: an http(s) GET, an OCI artifact's model layer, or a file
// in a PersistentVolumeClaim mounted into this process (the fetch's init container mounts it).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FETCH_REASON, ModelFetchError } from './errors.js';
import { ensureOk, get, request } from './http.js';
import { resolveOciBlob, type OciOptions } from './oci.js';
import type { ModelSource } from './source.js';

export interface OpenOptions extends OciOptions {
  /** Where the PVC of a pvc:// source is mounted; without it a pvc source cannot be opened. */
  readonly pvcMountPath?: string;
  /** Only the first `firstBytes` bytes are wanted (an HTTP Range request). */
  readonly firstBytes?: number;
  readonly signal?: AbortSignal;
}

export interface OpenedSource {
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Bytes the whole file has, when the server or the file system says. */
  readonly size?: number;
  /** Where the bytes come from, for messages. */
  readonly location: string;
}

function sizeOf(response: Response): number | undefined {
  const range = /\/([0-9]+)$/.exec(response.headers.get('content-range') ?? '');
  const length =
    range?.[1] ?? (response.status === 200 ? response.headers.get('content-length') : null);
  return length ? Number(length) : undefined;
}

function bodyOf(response: Response, location: string): AsyncIterable<Uint8Array> {
  if (response.body === null) {
    throw new ModelFetchError(
      FETCH_REASON.sourceUnreachable,
      `GET ${location}: the answer has no body`,
    );
  }
  return response.body;
}

/** A Range header for the first `bytes` bytes (none when all are wanted). */
function rangeOf(bytes: number | undefined): Record<string, string> {
  return bytes === undefined ? {} : { Range: `bytes=0-${bytes - 1}` };
}

/**
 * GET with a Range; a server that refuses the range (416: some refuse an end past the file, which
 * RFC 9110 says to clip) is asked again for the whole file, which the reader stops early.
 */
async function getRange(
  url: string,
  headers: Record<string, string>,
  firstBytes: number | undefined,
  signal: { signal?: AbortSignal },
): Promise<Response> {
  const ranged = await request(url, { headers: { ...headers, ...rangeOf(firstBytes) }, ...signal });
  if (ranged.status !== 416) return ensureOk(ranged, url);
  await ranged.body?.cancel();
  return get(url, { headers, ...signal });
}

export async function openSource(
  source: ModelSource,
  options: OpenOptions = {},
): Promise<OpenedSource> {
  const signal = options.signal ? { signal: options.signal } : {};
  switch (source.kind) {
    case 'http': {
      const response = await getRange(source.url, {}, options.firstBytes, signal);
      const size = sizeOf(response);
      return {
        chunks: bodyOf(response, source.url),
        location: source.url,
        ...(size ? { size } : {}),
      };
    }
    case 'oci': {
      const blob = await resolveOciBlob(source, options);
      // The manifest gives the layer's size: ask for no more than it has.
      const first =
        options.firstBytes === undefined || blob.size <= 0
          ? options.firstBytes
          : Math.min(options.firstBytes, blob.size);
      const response = await getRange(blob.url, { ...blob.headers }, first, signal);
      return {
        chunks: bodyOf(response, blob.url),
        location: blob.url,
        ...(blob.size > 0 ? { size: blob.size } : {}),
      };
    }
    case 'pvc': {
      const where = `pvc://${source.namespace}/${source.claim}/${source.path}`;
      if (options.pvcMountPath === undefined) {
        throw new ModelFetchError(
          FETCH_REASON.sourceNotMounted,
          `${where}: the claim is not mounted here; a PVC source is read by the pod that mounts it`,
        );
      }
      const path = join(options.pvcMountPath, source.path);
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch (error) {
        throw new ModelFetchError(
          FETCH_REASON.sourceUnreachable,
          `${where}: ${path} cannot be read in the mounted claim (${(error as Error).message})`,
        );
      }
      const end = options.firstBytes === undefined ? {} : { end: options.firstBytes - 1 };
      return { chunks: createReadStream(path, { ...end, ...signal }), location: path, size };
    }
  }
}
