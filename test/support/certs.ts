// Test PKI generated at test time: a CA, a server certificate for localhost/127.0.0.1 and a
// client certificate, in PEM. Keys come from Node's native RSA key generation (fast); node-forge
// builds and signs the X.509 certificates (Node's crypto cannot create certificates).
import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

const DAY_MS = 86_400_000;
const RSA_BITS = 2048;

export interface Pem {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface TestPki {
  readonly ca: Pem;
  readonly server: Pem;
  /** The operator's client certificate (CN edgellm-operator). */
  readonly client: Pem;
  /** Another client certificate signed by the same CA (CN someone-else). */
  readonly otherClient: Pem;
}

interface Issued {
  readonly pem: Pem;
  readonly cert: forge.pki.Certificate;
  readonly key: forge.pki.rsa.PrivateKey;
}

let serial = 1;

function issue(commonName: string, kind: 'ca' | 'server' | 'client', issuer?: Issued): Issued {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: RSA_BITS,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const key = forge.pki.privateKeyFromPem(privateKey);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = (serial++).toString(16).padStart(2, '0');
  cert.validity.notBefore = new Date(Date.now() - DAY_MS);
  cert.validity.notAfter = new Date(Date.now() + DAY_MS);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(issuer ? issuer.cert.subject.attributes : subject);
  cert.setExtensions(
    kind === 'ca'
      ? [
          { name: 'basicConstraints', cA: true, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
          { name: 'subjectKeyIdentifier' },
        ]
      : [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: kind === 'server', clientAuth: kind === 'client' },
          ...(kind === 'server'
            ? [
                {
                  name: 'subjectAltName',
                  altNames: [
                    { type: 2, value: 'localhost' },
                    { type: 7, ip: '127.0.0.1' },
                  ],
                },
              ]
            : []),
        ],
  );
  cert.sign(issuer?.key ?? key, forge.md.sha256.create());
  return {
    cert,
    key,
    pem: { cert: Buffer.from(forge.pki.certificateToPem(cert)), key: Buffer.from(privateKey) },
  };
}

/** A fresh CA with one server and one client certificate. */
export function createTestPki(caName = 'edgellm test CA'): TestPki {
  const ca = issue(caName, 'ca');
  const server = issue('edgellm-agent', 'server', ca);
  const client = issue('edgellm-operator', 'client', ca);
  const otherClient = issue('someone-else', 'client', ca);
  return { ca: ca.pem, server: server.pem, client: client.pem, otherClient: otherClient.pem };
}
