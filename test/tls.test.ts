/**
 * TLS on nodis-server as Redis 7.0 does it: tls-port next to (or instead of) the plain port,
 * tls-auth-clients yes/no/optional, live certificate reload by CONFIG SET with Redis's errors,
 * and the clients people use over TLS: redis-cli --tls, nodis-cli --tls, ioredis and node-redis
 * with `tls:` options. Certificates are made with openssl for the run.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { NODIS_CLI, freePort, startServer, stopAll, type RunningServer } from './helpers/server.js';
import { makeTestCerts, tlsServerArgs, type TestCerts } from './helpers/tls-certs.js';

const run = promisify(execFile);
let certs: TestCerts;

before(() => {
  certs = makeTestCerts();
});
after(async () => {
  await stopAll();
  certs.remove();
});

/** A TLS-only nodis (port 0 + tls-port), configured as Redis's suite configures one. */
async function startTlsServer(extra: string[] = []): Promise<{ server: RunningServer; tlsPort: number }> {
  const tlsPort = await freePort();
  const server = await startServer({ args: ['--port', '0', ...tlsServerArgs(certs, tlsPort), ...extra] });
  return { server, tlsPort };
}

/** ioredis over TLS with the given client certificate (none: no certificate). */
function tlsClient(port: number, cert: { cert: string; key: string } | null = { cert: certs.clientCert, key: certs.clientKey }): Redis {
  const c = new Redis({
    port,
    host: '127.0.0.1',
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    tls: {
      ca: fs.readFileSync(certs.ca),
      ...(cert !== null ? { cert: fs.readFileSync(cert.cert), key: fs.readFileSync(cert.key) } : {}),
      checkServerIdentity: () => undefined,
    },
  });
  c.on('error', () => {});
  return c;
}

/**
 * One TLS connection that sends PING: resolves 'PONG', or how it failed ('refused' when the
 * server closed or alerted, whatever the TLS version made the failure look like).
 */
function tlsPing(port: number, opts: tls.ConnectionOptions = {}): Promise<{ reply: string; peerCN: string }> {
  return new Promise((resolve) => {
    let got = '';
    let peerCN = '';
    const sock = tls.connect({ port, host: '127.0.0.1', ca: fs.readFileSync(certs.ca), checkServerIdentity: () => undefined, ...opts });
    sock.on('secureConnect', () => {
      const subject = sock.getPeerCertificate().subject as unknown as Record<string, string> | undefined;
      peerCN = subject?.CN ?? '';
      sock.write('PING\r\n');
    });
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.endsWith('\r\n')) {
        sock.destroy();
        resolve({ reply: got.trim().replace(/^\+/, ''), peerCN });
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => resolve({ reply: got === '' ? 'refused' : got.trim(), peerCN }));
  });
}

const withCert = (name: 'client' | 'stranger' | 'redis'): tls.ConnectionOptions => ({
  cert: fs.readFileSync(name === 'client' ? certs.clientCert : name === 'redis' ? certs.redisCert : certs.strangerCert),
  key: fs.readFileSync(name === 'client' ? certs.clientKey : name === 'redis' ? certs.redisKey : certs.strangerKey),
});

describe('TLS listener', () => {
  it('SHUTDOWN exits while a connection is still in its TLS handshake', async () => {
    const { server, tlsPort } = await startTlsServer();
    // A TCP connection that never sends its ClientHello: not a client, still open.
    const idle = net.connect({ host: '127.0.0.1', port: tlsPort });
    idle.on('error', () => {});
    await new Promise((r) => idle.once('connect', r));
    const exited = new Promise<number | null>((r) => server.proc.once('exit', (code) => r(code)));
    await tlsClient(tlsPort).call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
    assert.equal(await exited, 0);
    idle.destroy();
  });

  it('serves redis-cli --tls on tls-port and refuses plain text there with Redis log line', async () => {
    const { server, tlsPort } = await startTlsServer();
    const cli = ['-p', String(tlsPort), '--tls', '--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey];
    assert.equal((await run('redis-cli', [...cli, 'SET', 'k', 'over tls'])).stdout, 'OK\n');
    assert.equal((await run('redis-cli', [...cli, 'GET', 'k'])).stdout, 'over tls\n');
    // nodis-cli speaks the same options.
    assert.equal((await run(NODIS_CLI, [...cli, 'GET', 'k'])).stdout, 'over tls\n');
    assert.equal((await run(NODIS_CLI, ['-u', `rediss://127.0.0.1:${tlsPort}`, '--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey, 'PING'])).stdout, 'PONG\n');
    // A plain-text client gets nothing but a closed connection.
    const plain = await new Promise<string>((resolve) => {
      let got = '';
      const s = net.connect(tlsPort, '127.0.0.1', () => s.write('PING\r\n'));
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('error', () => {});
      s.on('close', () => resolve(got));
    });
    assert.equal(plain, '');
    await server.waitForLog('Error accepting a client connection: error:0A00010B:SSL routines::wrong version number');
    assert.match(server.output(), /Running mode=standalone, port=\d+\./);
    const info = await run('redis-cli', [...cli, 'INFO', 'server']);
    assert.match(info.stdout, /tcp_port:0\r?\n/);
  });

  it('nodis-cli reports TLS failures with redis-cli texts', async () => {
    const { tlsPort } = await startTlsServer();
    const base = ['-p', String(tlsPort), '--tls'];
    const failing = async (args: string[]): Promise<string> => {
      const r = await run(NODIS_CLI, [...base, ...args, 'PING']).then(() => ({ stderr: 'succeeded' }), (e: { stderr: string }) => e);
      return r.stderr;
    };
    assert.match(await failing(['--cacert', certs.strangerCert, '--cert', certs.clientCert, '--key', certs.clientKey]), /Could not connect to Redis at 127\.0\.0\.1:\d+: SSL_connect failed: certificate verify failed/);
    assert.match(await failing(['--cacert', certs.serverKey]), /Could not negotiate a TLS connection: Invalid CA Certificate File\/Directory/);
    assert.match(await failing(['--cacert', certs.ca, '--cert', path.join(certs.dir, 'missing.crt')]), /Could not negotiate a TLS connection: Invalid client certificate/);
    assert.match(await failing(['--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.serverKey]), /Could not negotiate a TLS connection: Invalid private key/);
    assert.match(await failing(['--cacert', certs.ca, '--tls-ciphers', 'nonsense']), /Error while configuring ciphers/);
    // --insecure skips verification; --sni is sent and harmless.
    const ok = await run(NODIS_CLI, [...base, '--insecure', '--sni', 'example.test', '--cert', certs.clientCert, '--key', certs.clientKey, 'PING']);
    assert.equal(ok.stdout, 'PONG\n');
  });

  it('ioredis and node-redis connect with tls: options', async () => {
    const { tlsPort } = await startTlsServer();
    const io = tlsClient(tlsPort);
    assert.equal(await io.set('lib', 'ioredis'), 'OK');
    assert.equal(await io.get('lib'), 'ioredis');
    const nr = createClient({
      socket: {
        host: '127.0.0.1',
        port: tlsPort,
        tls: true,
        ca: fs.readFileSync(certs.ca),
        cert: fs.readFileSync(certs.clientCert),
        key: fs.readFileSync(certs.clientKey),
        checkServerIdentity: () => undefined,
        reconnectStrategy: false,
      },
    });
    nr.on('error', () => {});
    await nr.connect();
    assert.equal(await nr.get('lib'), 'ioredis');
    await nr.set('big', 'x'.repeat(300000));
    assert.equal((await io.get('big'))?.length, 300000);
    nr.destroy();
    io.disconnect();
  });

  it('serves the plain port and tls-port at once, and switches between them with CONFIG SET', async () => {
    const port = await freePort();
    const tlsPort = await freePort();
    const server = await startServer({ port, args: tlsServerArgs(certs, tlsPort) });
    const plain = server.client();
    const secure = tlsClient(tlsPort);
    await plain.set('both', 'ports');
    assert.equal(await secure.get('both'), 'ports');
    // TLS only, on the port that was plain (Redis's "switch between tcp and tls ports").
    assert.equal(await secure.config('SET', 'port', '0'), 'OK');
    assert.equal(await secure.config('SET', 'tls-port', String(port)), 'OK');
    const moved = tlsClient(port);
    assert.equal(await moved.get('both'), 'ports');
    const refusedPlain = await new Promise<boolean>((resolve) => {
      const s = net.connect(tlsPort, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.on('error', () => resolve(true));
    });
    assert.equal(refusedPlain, true, 'the old tls-port is closed');
    // And back to plain.
    assert.equal(await moved.config('SET', 'tls-port', '0'), 'OK');
    assert.equal(await moved.config('SET', 'port', String(port)), 'OK');
    const back = server.client();
    assert.equal(await back.get('both'), 'ports');
    secure.disconnect();
    moved.disconnect();
  });
});

describe('tls-auth-clients', () => {
  it('yes: a certificate signed by the CA is required; no: none is asked; optional: one offered must verify', async () => {
    const { server, tlsPort } = await startTlsServer();
    const admin = tlsClient(tlsPort);
    // yes (the default)
    assert.equal((await tlsPing(tlsPort)).reply, 'refused');
    await server.waitForLog('Error accepting a client connection: error:0A0000C7:SSL routines::peer did not return a certificate');
    assert.equal((await tlsPing(tlsPort, withCert('stranger'))).reply, 'refused');
    await server.waitForLog('Error accepting a client connection: error:0A000086:SSL routines::certificate verify failed');
    assert.equal((await tlsPing(tlsPort, withCert('client'))).reply, 'PONG');
    assert.equal((await tlsPing(tlsPort, withCert('redis'))).reply, 'PONG');
    // no
    assert.equal(await admin.config('SET', 'tls-auth-clients', 'no'), 'OK');
    assert.equal((await tlsPing(tlsPort)).reply, 'PONG');
    assert.equal((await tlsPing(tlsPort, withCert('stranger'))).reply, 'PONG', 'no certificate is asked for, so none is checked');
    // optional
    assert.equal(await admin.config('SET', 'tls-auth-clients', 'optional'), 'OK');
    assert.equal((await tlsPing(tlsPort)).reply, 'PONG');
    assert.equal((await tlsPing(tlsPort, withCert('client'))).reply, 'PONG');
    assert.equal((await tlsPing(tlsPort, withCert('stranger'))).reply, 'refused');
    // back to yes
    assert.equal(await admin.config('SET', 'tls-auth-clients', 'yes'), 'OK');
    assert.equal((await tlsPing(tlsPort)).reply, 'refused');
    assert.deepEqual(await admin.config('GET', 'tls-auth-clients'), ['tls-auth-clients', 'yes']);
    admin.disconnect();
  });

  it('redis-cli without a certificate is refused when tls-auth-clients is yes', async () => {
    const { tlsPort } = await startTlsServer();
    const r = await run('redis-cli', ['-p', String(tlsPort), '--tls', '--cacert', certs.ca, 'PING']).then(() => 'succeeded', (e: { stdout: string; stderr: string }) => e.stdout + e.stderr);
    assert.notEqual(r, 'succeeded');
    assert.doesNotMatch(r, /PONG/);
  });
});

describe('TLS configuration', () => {
  it('CONFIG SET of the certificate reloads it live; a bad file fails with Redis error and keeps the old one', async () => {
    const { server, tlsPort } = await startTlsServer();
    const admin = tlsClient(tlsPort);
    assert.equal((await tlsPing(tlsPort, withCert('client'))).peerCN, 'Server-only');
    const fresh = certs.issue('fresh', 'Reloaded');
    assert.equal(await admin.config('SET', 'tls-cert-file', fresh.cert, 'tls-key-file', fresh.key), 'OK');
    assert.equal((await tlsPing(tlsPort, withCert('client'))).peerCN, 'Reloaded');
    // Same path, new content: tls-cert-file is volatile, setting it again reloads the file.
    const again = certs.issue('again', 'Rotated');
    fs.copyFileSync(again.cert, fresh.cert);
    fs.copyFileSync(again.key, fresh.key);
    assert.equal(await admin.config('SET', 'tls-cert-file', fresh.cert, 'tls-key-file', fresh.key), 'OK');
    assert.equal((await tlsPing(tlsPort, withCert('client'))).peerCN, 'Rotated');
    // Failures: Redis's reply and log lines; the old context stays.
    const missing = path.join(certs.dir, 'missing.crt');
    await assert.rejects(admin.config('SET', 'tls-cert-file', missing), /ERR CONFIG SET failed \(possibly related to argument 'tls-cert-file'\) - Unable to update TLS configuration\. Check server logs\./);
    await server.waitForLog(`Failed to load certificate: ${missing}: error:80000002:system library::No such file or directory`);
    await assert.rejects(admin.config('SET', 'tls-key-file', certs.clientKey), /Unable to update TLS configuration/);
    await server.waitForLog(`Failed to load private key: ${certs.clientKey}: error:05800074:x509 certificate routines::key values mismatch`);
    await assert.rejects(admin.config('SET', 'tls-protocols', 'TLSv9'), /Unable to update TLS configuration/);
    await server.waitForLog("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.");
    await assert.rejects(admin.config('SET', 'tls-ciphers', 'nonsense'), /Unable to update TLS configuration/);
    await server.waitForLog('Failed to configure ciphers: nonsense');
    await assert.rejects(admin.config('SET', 'tls-ca-cert-file', certs.serverKey), /Unable to update TLS configuration/);
    await server.waitForLog('Failed to configure CA certificate(s) file/directory: error:05800088:x509 certificate routines::no certificate or crl found');
    assert.deepEqual(await admin.config('GET', 'tls-cert-file'), ['tls-cert-file', fresh.cert]);
    assert.equal((await tlsPing(tlsPort, withCert('client'))).peerCN, 'Rotated');
    admin.disconnect();
  });

  it('an encrypted key needs tls-key-file-pass; tls-protocols and tls-ciphers are enforced', async () => {
    const { tlsPort } = await startTlsServer();
    const admin = tlsClient(tlsPort);
    const encrypted = path.join(certs.dir, 'server.key.encrypted');
    await run('openssl', ['pkey', '-in', certs.serverKey, '-out', encrypted, '-aes256', '-passout', 'pass:1234']);
    await assert.rejects(admin.config('SET', 'tls-key-file', encrypted), /Unable to update TLS/);
    assert.equal(await admin.config('SET', 'tls-key-file-pass', '1234'), 'OK');
    assert.equal(await admin.config('SET', 'tls-key-file', encrypted), 'OK');
    assert.equal((await tlsPing(tlsPort, withCert('client'))).reply, 'PONG');
    // TLSv1.2 only: a TLSv1.3-only client cannot connect.
    assert.equal(await admin.config('SET', 'tls-protocols', 'TLSv1.2'), 'OK');
    assert.equal((await tlsPing(tlsPort, { ...withCert('client'), minVersion: 'TLSv1.3' })).reply, 'refused');
    assert.equal((await tlsPing(tlsPort, { ...withCert('client'), maxVersion: 'TLSv1.2' })).reply, 'PONG');
    assert.equal(await admin.config('SET', 'tls-ciphers', 'DEFAULT:-ECDHE-ECDSA-AES128-GCM-SHA256'), 'OK');
    assert.equal((await tlsPing(tlsPort, { ...withCert('client'), ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })).reply, 'refused');
    assert.equal((await tlsPing(tlsPort, { ...withCert('client'), ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' })).reply, 'PONG');
    admin.disconnect();
  });

  it('start-up refuses a TLS configuration without a CA or a certificate, with Redis log lines', async () => {
    const tlsPort = await freePort();
    await assert.rejects(startServer({ args: ['--port', '0', '--tls-port', String(tlsPort), '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey] }),
      /Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled![\s\S]*Failed to configure TLS\. Check logs for more info\./);
    await assert.rejects(startServer({ args: ['--port', '0', '--tls-port', String(tlsPort), '--tls-auth-clients', 'no'] }), /No tls-cert-file configured!/);
    // tls-ca-cert-dir alone is enough.
    const caDir = path.join(certs.dir, 'cadir');
    fs.mkdirSync(caDir, { recursive: true });
    fs.copyFileSync(certs.ca, path.join(caDir, 'ca.pem'));
    const server = await startServer({ args: ['--port', '0', '--tls-port', String(tlsPort), '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey, '--tls-ca-cert-dir', caDir] });
    assert.equal((await tlsPing(tlsPort, withCert('client'))).reply, 'PONG');
    await server.stop();
  });
});

describe('a bad handshake does not hurt other clients', () => {
  it('garbage, aborted handshakes and refused certificates leave established clients working', async () => {
    const { server, tlsPort } = await startTlsServer();
    const steady = tlsClient(tlsPort);
    await steady.set('steady', '1');
    const abuse: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      abuse.push(tlsPing(tlsPort, withCert('stranger')));
      abuse.push(tlsPing(tlsPort));
      abuse.push(new Promise<void>((resolve) => {
        const s = net.connect(tlsPort, '127.0.0.1', () => {
          // A handshake record cut short (odd i), or one announcing more than a record may hold.
          s.write(Buffer.from(i % 2 === 1 ? [0x16, 0x03, 0x01, 0x01, 0x00, 0x01] : [0x16, 0x03, 0x01, 0xff, 0xff, 0x01]));
          s.destroy();
        });
        s.on('error', () => {});
        s.on('close', () => resolve());
      }));
      abuse.push(steady.incr('steady'));
    }
    await Promise.all(abuse);
    assert.equal(await steady.get('steady'), '11');
    await server.waitForLog('Error accepting a client connection: error:0A000126:SSL routines::unexpected eof while reading');
    await server.waitForLog('Error accepting a client connection: error:0A0000C6:SSL routines::packet length too long');
    const clients = (await steady.client('LIST')) as string;
    assert.equal(clients.trim().split('\n').length, 1, 'failed handshakes never became clients');
    const stats = (await steady.info('stats')) as string;
    assert.match(stats, /total_connections_received:1\r\n/);
    steady.disconnect();
  });
});

describe('TLS clients and busy scripts', () => {
  it('a TLS client waits out a busy script (killed over the plain port); SCRIPT DEBUG SYNC is refused over TLS', async () => {
    const port = await freePort();
    const tlsPort = await freePort();
    const server = await startServer({ port, args: [...tlsServerArgs(certs, tlsPort), '--busy-reply-threshold', '100'] });
    const secure = tlsClient(tlsPort);
    await assert.rejects(secure.call('SCRIPT', 'DEBUG', 'SYNC'), /ERR SCRIPT DEBUG SYNC needs a plain TCP or unix socket connection \(not available over TLS in nodis\)/);
    // Both plain clients are connected (and past ioredis's ready check) before the script starts.
    const runner = server.client();
    const admin = server.client();
    await Promise.all([runner.ping(), admin.ping(), secure.ping()]);
    const busy = runner.eval('while true do end', 0).then(String, (e: Error) => e.message);
    // The plain client sees BUSY once the script is past the threshold.
    for (;;) {
      const r = await admin.ping().catch((e: Error) => e.message);
      if (/^BUSY/.test(r)) break;
    }
    const waiting = secure.ping();
    assert.equal(await admin.script('KILL'), 'OK');
    assert.match(await busy, /Script killed by user/);
    assert.equal(await waiting, 'PONG', 'served when the script ended, not refused with BUSY');
    secure.disconnect();
  });
});
