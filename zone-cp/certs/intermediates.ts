import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createCsr } from '../../core/pki/authority.js';
import { exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem, x509 } from '../../core/pki/crypto.js';
import type { SigningIdentity } from '../../core/pki/authority.js';
import type { Logger } from '../../core/log.js';
import { writeFileAtomically } from '../../core/atomic-file.js';
import { callGlobalCp } from '../global-client.js';

/** What a zone holds to sign its tenant's workloads: its own key, the certificate for it, and the tenant's roots. */
export interface Intermediate {
  tenant: string;
  certificatePem: string;
  chainPem: string[];
  trustBundle: string[];
  notBefore: string;
  notAfter: string;
}

/** Renew once two thirds of the lifetime have passed, so a global CP outage of up to a third of it costs nothing. Pure. */
export function needsRenewal(notBefore: string, notAfter: string, nowMs: number): boolean {
  const start = Date.parse(notBefore);
  const end = Date.parse(notAfter);
  return nowMs >= start + ((end - start) * 2) / 3;
}

const dirOf = (stateDir: string, tenant: string) => join(stateDir, 'pki', tenant);

/**
 * Keeps one intermediate CA per tenant placed in the zone. The key is
 * generated here, stays in the state dir (mode 600) and only its CSR goes to
 * the global CP; a fresh key is made at every renewal.
 */
export class IntermediateKeeper {
  private readonly held = new Map<string, Intermediate>();
  /** Tenants whose global signer is no longer the issuer of the held intermediate: renew now, not at 2/3 of life. */
  private readonly signerChanged = new Set<string>();
  /** Intermediates renewed away during this process's life, by tenant. */
  private readonly replaced = new Map<string, Intermediate[]>();
  /** Opened signing keys, by tenant; replaced when the intermediate is renewed. */
  private readonly signers = new Map<string, { intermediate: Intermediate; identity: SigningIdentity }>();

  constructor(
    private readonly options: { stateDir: string; zone: string; globalUrl: string; token: string; log: Logger },
  ) {}

  current(): Intermediate[] {
    return [...this.held.values()];
  }

  get(tenant: string): Intermediate | undefined {
    return this.held.get(tenant);
  }

  /** PEMs of the tenant's current intermediate and the ones it replaced that are still valid: SVIDs they signed are still good. */
  validIssuers(tenant: string): string[] {
    const now = Date.now();
    const current = this.held.get(tenant);
    const all = [...(current ? [current] : []), ...(this.replaced.get(tenant) ?? [])];
    return all.filter((i) => Date.parse(i.notAfter) > now).map((i) => i.certificatePem);
  }

  /** The zone's signing identity for the tenant's workloads, or undefined while it has no valid intermediate. */
  async signer(tenant: string): Promise<{ identity: SigningIdentity; intermediate: Intermediate } | undefined> {
    const intermediate = this.held.get(tenant);
    if (!intermediate || Date.parse(intermediate.notAfter) <= Date.now()) return undefined;
    // Keyed on the held object: no certificate parsing per SVID (bench/pki found it was 8 % of the work).
    let opened = this.signers.get(tenant);
    if (opened?.intermediate !== intermediate) {
      const certificate = new x509.X509Certificate(intermediate.certificatePem);
      const keyPem = await readFile(join(dirOf(this.options.stateDir, tenant), 'intermediate.key'), 'utf8');
      opened = { intermediate, identity: { certificate, privateKey: await importPrivateKeyPem(keyPem) } };
      this.signers.set(tenant, opened);
    }
    return { identity: opened.identity, intermediate };
  }

  /** Makes sure every placed tenant has a valid intermediate and no other tenant has one. */
  async sync(placedTenants: string[]): Promise<void> {
    // Also what is on disk: a tenant may have left while this zone CP was down.
    const onDisk = await readdir(join(this.options.stateDir, 'pki')).catch(() => [] as string[]);
    for (const tenant of new Set([...this.held.keys(), ...onDisk])) {
      if (placedTenants.includes(tenant)) continue;
      this.held.delete(tenant);
      this.signers.delete(tenant);
      this.replaced.delete(tenant);
      await rm(dirOf(this.options.stateDir, tenant), { recursive: true, force: true });
      this.options.log.info({ tenant }, 'tenant left the zone: its intermediate CA key is deleted');
    }
    for (const tenant of placedTenants) {
      try {
        await this.ensure(tenant);
      } catch (error) {
        this.options.log.warn({ tenant, err: (error as Error).message }, 'could not get an intermediate CA; will retry');
      }
    }
  }

  private async ensure(tenant: string): Promise<void> {
    let existing = this.held.get(tenant) ?? (await this.load(tenant));
    if (existing) existing = await this.followTrustBundle(tenant, existing);
    if (existing && !needsRenewal(existing.notBefore, existing.notAfter, Date.now()) && !this.signerChanged.has(tenant)) {
      this.held.set(tenant, existing);
      return;
    }
    this.signerChanged.delete(tenant);
    const renewed = await this.request(tenant);
    if (existing) this.replaced.set(tenant, [existing, ...(this.replaced.get(tenant) ?? [])].filter((i) => Date.parse(i.notAfter) > Date.now()));
    this.held.set(tenant, renewed);
  }

  /**
   * Reads the tenant's current roots and signer (a root rotation bumps the
   * tenant revision, which triggers a sync): new roots are kept with the
   * intermediate, so proxies get them with their next SVID; a new signer
   * means this intermediate is renewed at once. Unreachable: keep what we have.
   */
  private async followTrustBundle(tenant: string, held: Intermediate): Promise<Intermediate> {
    const { zone, globalUrl, token, stateDir, log } = this.options;
    const reply = await callGlobalCp<{ roots: string[]; signer: { serial: string } }>(globalUrl, token, 'GET', `/zones/${encodeURIComponent(zone)}/trust-bundles/${encodeURIComponent(tenant)}`, undefined, 5000);
    if (!reply.reached || reply.status !== 200 || !reply.body.roots || !reply.body.signer) return held;
    const issuerPem = held.chainPem[0];
    if (issuerPem && new x509.X509Certificate(issuerPem).serialNumber !== reply.body.signer.serial && !this.signerChanged.has(tenant)) {
      this.signerChanged.add(tenant);
      log.info({ tenant, signer: reply.body.signer.serial }, 'the tenant has a new signing CA: renewing this zone\'s intermediate now');
    }
    if (reply.body.roots.join('\n') === held.trustBundle.join('\n')) return held;
    const updated = { ...held, trustBundle: reply.body.roots };
    await writeFileAtomically(join(dirOf(stateDir, tenant), 'intermediate.json'), JSON.stringify(updated));
    log.info({ tenant, roots: reply.body.roots.length }, 'trust bundle changed');
    return updated;
  }

  private async load(tenant: string): Promise<Intermediate | undefined> {
    try {
      return JSON.parse(await readFile(join(dirOf(this.options.stateDir, tenant), 'intermediate.json'), 'utf8')) as Intermediate;
    } catch {
      return undefined;
    }
  }

  private async request(tenant: string): Promise<Intermediate> {
    const { zone, globalUrl, token, stateDir, log } = this.options;
    const keys = await generateKeyPair();
    const csr = await createCsr(keys, `CN=meshfed zone ${zone} intermediate for ${tenant}`);
    const reply = await callGlobalCp<{ certificate: string; chain: string[]; trustBundle: { roots: string[] } }>(
      globalUrl,
      token,
      'POST',
      `/zones/${encodeURIComponent(zone)}/intermediates/${encodeURIComponent(tenant)}`,
      { csr: csr.toString('pem') },
      10_000,
    );
    if (!reply.reached) throw new Error(`global CP unreachable: ${reply.reason}`);
    const { body } = reply;
    if (reply.status !== 200 || !body.certificate) throw new Error(`global CP answered ${reply.status}: ${body.message ?? ''}`);
    const certificate = new x509.X509Certificate(body.certificate);
    const intermediate: Intermediate = {
      tenant,
      certificatePem: body.certificate,
      chainPem: body.chain ?? [],
      trustBundle: body.trustBundle?.roots ?? [],
      notBefore: certificate.notBefore.toISOString(),
      notAfter: certificate.notAfter.toISOString(),
    };
    const dir = dirOf(stateDir, tenant);
    // The key first: a certificate on disk always has its key beside it.
    await writeFileAtomically(join(dir, 'intermediate.key'), await exportPrivateKeyPem(keys.privateKey));
    await writeFileAtomically(join(dir, 'intermediate.json'), JSON.stringify(intermediate));
    log.info({ tenant, serial: certificate.serialNumber, notAfter: intermediate.notAfter }, 'intermediate CA issued for this zone');
    return intermediate;
  }
}
