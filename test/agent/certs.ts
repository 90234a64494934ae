// Test PKI generated at test time: a CA, a server certificate for localhost/127.0.0.1 and a
// client certificate, all ECDSA P-256 through WebCrypto (@peculiar/x509), in PEM.
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface Pem {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface TestPki {
  readonly ca: Pem;
  readonly server: Pem;
  readonly client: Pem;
}

async function keyPem(key: CryptoKey): Promise<Buffer> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return Buffer.from(x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'));
}

let serial = 1;

async function issue(
  subject: string,
  issuer: { name: string; keys: CryptoKeyPair } | undefined,
  kind: 'ca' | 'server' | 'client',
): Promise<{ pem: Pem; keys: CryptoKeyPair; name: string }> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const now = Date.now();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(kind === 'ca', undefined, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (kind === 'ca')
    extensions.push(
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
    );
  else {
    extensions.push(
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(
        [kind === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
        false,
      ),
    );
    if (kind === 'server')
      extensions.push(
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: 'localhost' },
          { type: 'ip', value: '127.0.0.1' },
        ]),
      );
  }
  const name = `CN=${subject}`;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    subject: name,
    issuer: issuer?.name ?? name,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + DAY_MS),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: (issuer?.keys ?? keys).privateKey,
    extensions,
  });
  return {
    pem: { cert: Buffer.from(cert.toString('pem')), key: await keyPem(keys.privateKey) },
    keys,
    name,
  };
}

/** A fresh CA with one server and one client certificate. */
export async function createTestPki(caName = 'edgellm test CA'): Promise<TestPki> {
  const ca = await issue(caName, undefined, 'ca');
  const issuer = { name: ca.name, keys: ca.keys };
  const server = await issue('edgellm-agent', issuer, 'server');
  const client = await issue('edgellm-operator', issuer, 'client');
  return { ca: ca.pem, server: server.pem, client: client.pem };
}
