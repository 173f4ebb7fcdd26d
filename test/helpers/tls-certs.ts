/**
 * Test certificates made with `openssl` in a temp dir, in the layout of Redis's own
 * utils/gen-test-certs.sh: a CA, a server-only certificate, a client-only one, a generic one
 * (both usages), and — to be refused — a client certificate from an unrelated CA.
 * EC keys keep generation fast.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  redisCert: string;
  redisKey: string;
  /** Signed by another CA: the server must refuse it. */
  strangerCert: string;
  strangerKey: string;
  /** Makes another certificate signed by the test CA (generic usage) with this common name. */
  issue(name: string, cn: string): { cert: string; key: string };
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(file: string, cwd: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', file], cwd);
}

export function makeTestCerts(): TestCerts {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-tls-'));
  const p = (f: string): string => path.join(dir, f);
  fs.writeFileSync(p('openssl.cnf'), [
    '[ server_cert ]', 'keyUsage = digitalSignature, keyEncipherment', 'nsCertType = server', '',
    '[ client_cert ]', 'keyUsage = digitalSignature, keyEncipherment', 'nsCertType = client', '',
  ].join('\n'));
  const selfSigned = (name: string, cn: string): void => {
    newKey(`${name}.key`, dir);
    openssl(['req', '-x509', '-new', '-nodes', '-sha256', '-key', `${name}.key`, '-days', '3650', '-subj', `/O=nodis Test/CN=${cn}`, '-out', `${name}.crt`], dir);
  };
  const signed = (name: string, cn: string, ext: string | null): void => {
    newKey(`${name}.key`, dir);
    openssl(['req', '-new', '-sha256', '-key', `${name}.key`, '-subj', `/O=nodis Test/CN=${cn}`, '-out', `${name}.csr`], dir);
    openssl(['x509', '-req', '-sha256', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAserial', 'ca.txt', '-CAcreateserial', '-days', '365',
      ...(ext !== null ? ['-extfile', 'openssl.cnf', '-extensions', ext] : []), '-out', `${name}.crt`], dir);
  };
  selfSigned('ca', 'Certificate Authority');
  signed('server', 'Server-only', 'server_cert');
  signed('client', 'Client-only', 'client_cert');
  signed('redis', 'Generic-cert', null);
  selfSigned('stranger', 'Stranger');
  return {
    dir,
    ca: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    redisCert: p('redis.crt'),
    redisKey: p('redis.key'),
    strangerCert: p('stranger.crt'),
    strangerKey: p('stranger.key'),
    issue: (name, cn) => {
      signed(name, cn, null);
      return { cert: p(`${name}.crt`), key: p(`${name}.key`) };
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** The tls-* arguments of a server that uses these certificates (as Redis's suite configures one). */
export function tlsServerArgs(certs: TestCerts, tlsPort: number): string[] {
  return [
    '--tls-port', String(tlsPort),
    '--tls-cert-file', certs.serverCert,
    '--tls-key-file', certs.serverKey,
    '--tls-client-cert-file', certs.clientCert,
    '--tls-client-key-file', certs.clientKey,
    '--tls-ca-cert-file', certs.ca,
  ];
}
