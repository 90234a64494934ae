// Server credentials: mTLS (only clients with a certificate signed by the configured CA are
// served) or, behind an explicit flag, plain text for local development.
import { readFile } from 'node:fs/promises';
import { ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { UserInputError } from '../util/user-error.js';
import type { AgentConfig } from './config.js';

/** PEM material for mTLS. */
export interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export async function readTlsFiles(files: {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}): Promise<TlsMaterial> {
  const read = async (path: string, what: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new UserInputError(`cannot read TLS ${what} ${path}: ${(err as Error).message}`);
    }
  };
  const [ca, cert, key] = await Promise.all([
    read(files.caFile, 'CA bundle (tls.caFile)'),
    read(files.certFile, 'certificate (tls.certFile)'),
    read(files.keyFile, 'private key (tls.keyFile)'),
  ]);
  return { ca, cert, key };
}

/** mTLS credentials that require and verify a client certificate. */
export function mtlsServerCredentials(tls: TlsMaterial): ServerCredentials {
  return ServerCredentials.createSsl(
    tls.ca,
    [{ cert_chain: tls.cert, private_key: tls.key }],
    true,
  );
}

export async function serverCredentials(
  tls: AgentConfig['tls'],
  logger: Logger,
): Promise<ServerCredentials> {
  if ('caFile' in tls) return mtlsServerCredentials(await readTlsFiles(tls));
  logger.warn(
    '!!! INSECURE: the agent serves plain-text gRPC without client authentication (tls.insecure / --insecure-dev). Local development only; never expose this port. !!!',
  );
  return ServerCredentials.createInsecure();
}
