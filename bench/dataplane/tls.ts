/**
 * Certificates for the mTLS HAProxy reference (a sidecar → sidecar hop is
 * mTLS in meshfed): one throwaway CA and one ECDSA P-256 leaf per side, made
 * with the `openssl` CLI into the bench's temp dir. Loopback only, deleted
 * with the temp dir.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface BenchPki {
  caFile: string;
  /** certificate + key in one PEM, for HAProxy `crt` */
  serverCrtFile: string;
  clientCrtFile: string;
  /** the DNS SAN of the server certificate (HAProxy's `verifyhost`) */
  serverName: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir });
  } catch (error) {
    throw new Error(`openssl ${args[0]}: ${(error as Error & { stderr?: string }).stderr?.trim() || (error as Error).message}`);
  }
}

async function leaf(dir: string, name: string, san: string): Promise<string> {
  await openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
  await openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
  await writeFile(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=critical,CA:FALSE\n`);
  await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
  const bundle = join(dir, `${name}.crt-key.pem`);
  await writeFile(bundle, (await readFile(join(dir, `${name}.pem`), 'utf8')) + (await readFile(join(dir, `${name}.key`), 'utf8')), { mode: 0o600 });
  return bundle;
}

/** A CA, a server leaf (DNS SAN `serverName`) and a client leaf, in `dir`. */
export async function makeBenchPki(dir: string): Promise<BenchPki> {
  const serverName = 'upstream.bench.mesh';
  await openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key']);
  await openssl(dir, [
    'req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=meshfed bench dataplane CA', '-days', '2', '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.pem',
  ]);
  const serverCrtFile = await leaf(dir, 'server', `DNS:${serverName}`);
  const clientCrtFile = await leaf(dir, 'client', 'URI:spiffe://bench.mesh/ns/bench/sa/client');
  return { caFile: join(dir, 'ca.pem'), serverCrtFile, clientCrtFile, serverName };
}
