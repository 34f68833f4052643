import { createHash, randomBytes } from 'node:crypto';
import { createRootCa, createRootCaNamed, type SigningIdentity } from '../../core/pki/authority.js';
import { exportPrivateKeyPem, importPrivateKeyPem, x509 } from '../../core/pki/crypto.js';
import { open, seal } from '../../core/pki/secret-box.js';
import type { TenantCa, TenantCaRoot } from '../store/records.js';
import { MIN_REMAINING_DAYS, chainExpiry, validateCaUpload, type CaUpload } from './upload.js';

/** active: signs now (roots[0]). staged: added with activate: false, not signed with yet. retiring: signed before, superseded. */
export type RootStatus = 'active' | 'staged' | 'retiring';

/** A tenant keeps at most this many signing CAs: every one's root goes into every workload's bundle. */
export const MAX_ROOTS = 8;
const DAY_MS = 86_400_000;

/**
 * Makes tenant CAs and opens their keys for signing. Keys exist in the clear
 * only in memory; in Redis they are sealed with the master key, bound to
 * their tenant and certificate serial.
 */
export class CaKeeper {
  private readonly opened = new Map<string, SigningIdentity>();

  constructor(private readonly masterKey: Buffer) {}

  async newTenantCa(tenant: string, trustDomain: string): Promise<TenantCa> {
    const root = await createRootCa({ tenant, trustDomain });
    const keyPem = await exportPrivateKeyPem(root.privateKey);
    return {
      roots: [
        {
          certificatePem: root.certificate.toString('pem'),
          sealedKey: seal(this.masterKey, keyPem, sealContext(tenant, root.certificate.serialNumber)),
          createdAt: new Date().toISOString(),
        },
      ],
    };
  }

  /** A new root for rotation, under a name of its own so the roots of one bundle are told apart. */
  async generatedRoot(tenant: string, trustDomain: string): Promise<TenantCaRoot> {
    const suffix = `${new Date().toISOString().slice(0, 10)} ${randomBytes(2).toString('hex')}`;
    const root = await createRootCaNamed({ name: `CN=meshfed ${tenant} root CA ${suffix}, O=${trustDomain}`, trustDomain });
    return {
      certificatePem: root.certificate.toString('pem'),
      sealedKey: seal(this.masterKey, await exportPrivateKeyPem(root.privateKey), sealContext(tenant, root.certificate.serialNumber)),
      createdAt: new Date().toISOString(),
      source: 'generated',
    };
  }

  /** An operator's own root or intermediate, checked strictly (a 400 naming the field otherwise); its key sealed like a generated one. */
  async uploadedRoot(tenant: string, trustDomain: string, upload: CaUpload): Promise<TenantCaRoot> {
    const valid = await validateCaUpload(upload, { tenant, trustDomain });
    return {
      certificatePem: valid.certificate.toString('pem'),
      sealedKey: seal(this.masterKey, valid.keyPem, sealContext(tenant, valid.certificate.serialNumber)),
      createdAt: new Date().toISOString(),
      ...(valid.chain.length ? { chainPem: valid.chain.map((c) => c.toString('pem')) } : {}),
      source: 'uploaded',
    };
  }

  /** The identity that signs for the tenant now: roots[0] (a root, or an uploaded intermediate). */
  async signer(tenant: string, ca: TenantCa): Promise<SigningIdentity> {
    const root = ca.roots[0];
    if (!root) throw new Error(`tenant "${tenant}" has no root CA`);
    const certificate = new x509.X509Certificate(root.certificatePem);
    const cacheKey = `${tenant}/${certificate.serialNumber}`;
    let identity = this.opened.get(cacheKey);
    if (!identity) {
      const keyPem = open(this.masterKey, root.sealedKey, sealContext(tenant, certificate.serialNumber));
      identity = { certificate, privateKey: await importPrivateKeyPem(keyPem) };
      this.opened.set(cacheKey, identity);
    }
    return identity;
  }

  /** Drops an opened key from memory (its root was retired). */
  forget(tenant: string, serial: string): void {
    this.opened.delete(`${tenant}/${serial}`);
  }
}

/** The serial of an entry's signing certificate: its name in the API. */
export const serialOf = (root: TenantCaRoot) => new x509.X509Certificate(root.certificatePem).serialNumber;

/** The self-signed root of an entry: what workloads trust. */
export const anchorPemOf = (root: TenantCaRoot) => root.chainPem?.at(-1) ?? root.certificatePem;

/** Every root a workload of the tenant must trust, the active one first (more than one while a root rotates). */
export function trustBundle(ca: TenantCa): string[] {
  const seen = new Set<string>();
  const bundle: string[] = [];
  for (const root of ca.roots) {
    const pem = anchorPemOf(root);
    const fingerprint = fingerprintOf(pem);
    if (seen.has(fingerprint)) continue;
    seen.add(fingerprint);
    bundle.push(pem);
  }
  return bundle;
}

/** What a zone gets as `chain` with its intermediate: the signer and its issuers up to the root. */
export function signerChain(ca: TenantCa): string[] {
  const root = ca.roots[0];
  return root ? [root.certificatePem, ...(root.chainPem ?? [])] : [];
}

/** When an entry stops being usable: the earliest expiry from its signing certificate up to its root. */
export function expiryOf(root: TenantCaRoot): Date {
  return chainExpiry(new x509.X509Certificate(root.certificatePem), (root.chainPem ?? []).map((pem) => new x509.X509Certificate(pem)));
}

export function statusOf(ca: TenantCa, index: number): RootStatus {
  if (index === 0) return 'active';
  return ca.roots[index]?.staged ? 'staged' : 'retiring';
}

/** Serials as @peculiar/x509 prints them (lowercase hex); URLs may use either case. */
const sameSerial = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export type CaChange =
  | { ok: true; ca: TenantCa; changed: boolean }
  | { ok: false; reason: 'not-found' | 'active' | 'last' | 'exists' | 'too-many' | 'expiring'; message: string };

/** Adds a CA: as the signer (the old one starts retiring), or staged behind the signer when `activate` is false. */
export function addRoot(ca: TenantCa, root: TenantCaRoot, activate: boolean): CaChange {
  const serial = serialOf(root);
  if (ca.roots.some((r) => sameSerial(serialOf(r), serial))) return { ok: false, reason: 'exists', message: `a CA with serial ${serial} is already in the tenant's CA` };
  if (ca.roots.length >= MAX_ROOTS) return { ok: false, reason: 'too-many', message: `the tenant has ${ca.roots.length} roots, the most it may have; retire one first` };
  const { staged: _staged, ...added } = root;
  const roots = activate ? [added, ...ca.roots] : [ca.roots[0]!, { ...added, staged: true }, ...ca.roots.slice(1)];
  return { ok: true, ca: { roots }, changed: true };
}

/** Makes an entry the signer (a staged one, or a retiring one to roll back). */
export function activateRoot(ca: TenantCa, serial: string, nowMs = Date.now()): CaChange {
  const index = ca.roots.findIndex((r) => sameSerial(serialOf(r), serial));
  if (index < 0) return { ok: false, reason: 'not-found', message: `no root with serial ${serial}` };
  if (index === 0) return { ok: true, ca, changed: false };
  const root = ca.roots[index]!;
  const expiry = expiryOf(root);
  if (expiry.getTime() - nowMs < MIN_REMAINING_DAYS * DAY_MS) {
    return { ok: false, reason: 'expiring', message: `root ${serial} (or a certificate of its chain) expires on ${expiry.toISOString()}, within ${MIN_REMAINING_DAYS} days: it may not sign any more` };
  }
  const { staged: _staged, ...activated } = root;
  return { ok: true, ca: { roots: [activated, ...ca.roots.filter((_, i) => i !== index)] }, changed: true };
}

/** Drops a root that no longer signs from the trust bundle. */
export function retireRoot(ca: TenantCa, serial: string): CaChange {
  const index = ca.roots.findIndex((r) => sameSerial(serialOf(r), serial));
  if (index < 0) return { ok: false, reason: 'not-found', message: `no root with serial ${serial}` };
  if (ca.roots.length === 1) return { ok: false, reason: 'last', message: `root ${serial} is the tenant's last root; add another and activate it first` };
  if (index === 0) return { ok: false, reason: 'active', message: `root ${serial} is the active signer; activate another root first` };
  return { ok: true, ca: { roots: ca.roots.filter((_, i) => i !== index) }, changed: true };
}

export interface CertificateView {
  serial: string;
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the DER certificate, uppercase hex pairs joined by ":" (as openssl x509 -fingerprint -sha256 prints it). */
  fingerprint: string;
  certificate: string;
}

export interface RootView extends CertificateView {
  status: RootStatus;
  active: boolean;
  source: 'generated' | 'uploaded';
  createdAt: string;
  /** The earliest expiry from this signing certificate up to its root. */
  expiresAt: string;
  /** The self-signed root in the trust bundle: this certificate itself, unless it is an uploaded intermediate. */
  root: CertificateView;
}

/** The CA as the API shows it: certificates and their state, never keys. */
export function describeCa(ca: TenantCa): RootView[] {
  return ca.roots.map((root, index) => {
    const status = statusOf(ca, index);
    return {
      ...certificateView(root.certificatePem),
      status,
      active: status === 'active',
      source: root.source ?? 'generated',
      createdAt: root.createdAt,
      expiresAt: expiryOf(root).toISOString(),
      root: certificateView(anchorPemOf(root)),
    };
  });
}

function certificateView(pem: string): CertificateView {
  const certificate = new x509.X509Certificate(pem);
  return {
    serial: certificate.serialNumber,
    subject: certificate.subject,
    issuer: certificate.issuer,
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    fingerprint: fingerprintOf(pem),
    certificate: certificate.toString('pem'),
  };
}

function fingerprintOf(pem: string): string {
  const der = Buffer.from(new x509.X509Certificate(pem).rawData);
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

const sealContext = (tenant: string, serial: string) => `meshfed/tenant/${tenant}/root/${serial}`;
