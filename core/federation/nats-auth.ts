import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fromPublic, fromSeed, type Permissions } from '@nats-io/jwt';
import type { NatsNames } from './names.js';

/**
 * NATS decentralized authorization for a federation: an operator, the
 * federation's account (JetStream on) and a system account, preloaded into
 * nats-server. The global CP holds the account key and signs a user JWT for
 * each control plane: itself with every permission, each zone with exactly
 * what it needs — its own placement key, the buckets of the tenants placed in
 * it, its own inventory key and heartbeat subject, and its own inbox.
 */
export interface NatsAuthority {
  operatorSeed: string;
  accountSeed: string;
  systemSeed: string;
}

export function createNatsAuthority(): NatsAuthority {
  const text = (seed: Uint8Array) => new TextDecoder().decode(seed);
  return { operatorSeed: text(createOperator().getSeed()), accountSeed: text(createAccount().getSeed()), systemSeed: text(createAccount().getSeed()) };
}

const UNLIMITED_ACCOUNT = {
  subs: -1, conn: -1, leaf: -1, imports: -1, exports: -1, data: -1, payload: -1, wildcards: true,
  mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1,
};

/** The nats-server configuration lines that turn this authorization on (public JWTs only, no secret). */
export async function natsServerAuthConfig(authority: NatsAuthority): Promise<string> {
  const operator = fromSeed(new TextEncoder().encode(authority.operatorSeed));
  const account = fromSeed(new TextEncoder().encode(authority.accountSeed));
  const system = fromSeed(new TextEncoder().encode(authority.systemSeed));
  const operatorJwt = await encodeOperator('meshfed', operator, { system_account: system.getPublicKey() });
  const accountJwt = await encodeAccount('meshfed', account, { limits: UNLIMITED_ACCOUNT }, { signer: operator });
  const systemJwt = await encodeAccount('SYS', system, {}, { signer: operator });
  return [
    `operator: ${operatorJwt}`,
    `system_account: ${system.getPublicKey()}`,
    'resolver: MEMORY',
    'resolver_preload: {',
    `  ${account.getPublicKey()}: ${accountJwt}`,
    `  ${system.getPublicKey()}: ${systemJwt}`,
    '}',
  ].join('\n');
}

export const zoneInboxPrefix = (zone: string) => `_INBOX_${zone}`;

/** Everything: for the global CP. */
export const CONTROL_PLANE_PERMISSIONS: Partial<Permissions> = { pub: { allow: ['>'] }, sub: { allow: ['>'] } };

/**
 * What a zone CP may do on NATS. Pure. With nats-server ≥ 2.9 a consumer's
 * filter is part of the create subject, so the zone can be limited to its own
 * placement key inside the shared placement bucket.
 */
export function zonePermissions(names: NatsNames, zone: string, tenants: string[]): Partial<Permissions> {
  const placement = `KV_${names.placementBucket}`;
  const pub = [
    '$JS.API.INFO',
    names.heartbeatSubject(zone),
    `$JS.API.STREAM.INFO.${placement}`,
    `$JS.API.CONSUMER.CREATE.${placement}.*.$KV.${names.placementBucket}.${zone}`,
    `$JS.API.CONSUMER.DELETE.${placement}.*`,
    `$JS.FC.${placement}.>`,
  ];
  for (const tenant of [...tenants].sort()) {
    const bucket = names.tenantBucket(tenant);
    const stream = `KV_${bucket}`;
    pub.push(
      `$KV.${bucket}.inventory.${zone}`,
      `$JS.API.STREAM.INFO.${stream}`,
      `$JS.API.CONSUMER.CREATE.${stream}`,
      `$JS.API.CONSUMER.CREATE.${stream}.>`,
      `$JS.API.CONSUMER.DELETE.${stream}.>`,
      `$JS.API.CONSUMER.INFO.${stream}.>`,
      `$JS.API.DIRECT.GET.${stream}`,
      `$JS.API.DIRECT.GET.${stream}.>`,
      `$JS.API.STREAM.MSG.GET.${stream}`,
      `$JS.FC.${stream}.>`,
    );
  }
  // Advisories that a watched bucket was created again, so the zone re-opens its watch at once.
  const advisories = [names.placementBucket, ...tenants.map((t) => names.tenantBucket(t))].map((b) => `$JS.EVENT.ADVISORY.STREAM.CREATED.KV_${b}`);
  return { pub: { allow: pub }, sub: { allow: [`${zoneInboxPrefix(zone)}.>`, ...advisories] } };
}

/** True for a NATS user public key ("U…", 56 characters, valid checksum). */
export function isUserPublicKey(key: string): boolean {
  if (!/^U[A-Z2-7]{55}$/.test(key)) return false;
  try {
    fromPublic(key);
    return true;
  } catch {
    return false;
  }
}

/** Signs a user JWT for `publicKey` with the account key; the user's seed stays with whoever generated it. */
export async function signUserJwt(accountSeed: string, name: string, publicKey: string, permissions: Partial<Permissions>, ttlSeconds: number): Promise<{ jwt: string; expiresAt: Date }> {
  const account = fromSeed(new TextEncoder().encode(accountSeed));
  const expiresAt = new Date(Math.floor(Date.now() / 1000 + ttlSeconds) * 1000);
  const jwt = await encodeUser(name, publicKey, account, permissions, { exp: Math.floor(expiresAt.getTime() / 1000) });
  return { jwt, expiresAt };
}

/** A connection identity for the global CP itself: every permission, signed on the spot with the account key it holds. */
export async function controlPlaneIdentity(accountSeed: string, ttlSeconds = 7 * 24 * 3600): Promise<{ jwt: string; seed: Uint8Array }> {
  const key = newUserKey();
  const { jwt } = await signUserJwt(accountSeed, 'meshfed-global-cp', key.publicKey, CONTROL_PLANE_PERMISSIONS, ttlSeconds);
  return { jwt, seed: key.seed };
}

/** A fresh user key pair for a control plane: the seed never leaves the process that made it. */
export function newUserKey(): { publicKey: string; seed: Uint8Array } {
  const user = createUser();
  return { publicKey: user.getPublicKey(), seed: user.getSeed() };
}
