import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newUserKey } from '../core/federation/nats-auth.js';
import { writeFileAtomically } from '../core/atomic-file.js';
import { callGlobalCp } from './global-client.js';

/** A zone CP's NATS identity: its own user key, and the JWT the global CP signed for it. */
export interface ZoneNatsCredentials {
  publicKey: string;
  seed: string;
  jwt: string;
  expiresAt: string;
  inboxPrefix: string;
  tenants: string[];
}

export type CredentialsOutcome =
  | { status: 'ok'; credentials: ZoneNatsCredentials }
  | { status: 'disabled' }
  | { status: 'refused' | 'unreachable'; reason: string };

const FILE = 'nats-credentials.json';

/** The saved identity (mode 0600 in the state dir), so a restart can reach NATS while the global CP is away. */
export async function loadCredentials(stateDir: string): Promise<ZoneNatsCredentials | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, FILE), 'utf8')) as ZoneNatsCredentials;
  } catch {
    return undefined;
  }
}

export async function saveCredentials(stateDir: string, credentials: ZoneNatsCredentials): Promise<void> {
  await writeFileAtomically(join(stateDir, FILE), JSON.stringify(credentials));
}

/** Asks the global CP to sign this zone's NATS user key (generated here; the seed never leaves the zone). */
export async function requestCredentials(globalUrl: string, zone: string, token: string, previous?: ZoneNatsCredentials): Promise<CredentialsOutcome> {
  const key = previous ? { publicKey: previous.publicKey, seed: previous.seed } : (() => {
    const fresh = newUserKey();
    return { publicKey: fresh.publicKey, seed: new TextDecoder().decode(fresh.seed) };
  })();
  const reply = await callGlobalCp<{ jwt: string; expiresAt: string; inboxPrefix: string; tenants: string[] }>(globalUrl, token, 'POST', `/zones/${encodeURIComponent(zone)}/nats-credentials`, {
    publicKey: key.publicKey,
  });
  if (!reply.reached) return { status: 'unreachable', reason: reply.reason };
  const { status, body } = reply;
  if (status === 409 && body.error === 'NatsAuthDisabled') return { status: 'disabled' };
  if (status >= 200 && status < 300 && body.jwt && body.expiresAt && body.inboxPrefix) {
    return { status: 'ok', credentials: { ...key, jwt: body.jwt, expiresAt: body.expiresAt, inboxPrefix: body.inboxPrefix, tenants: body.tenants ?? [] } };
  }
  if (status === 401 || status === 403 || status === 404) return { status: 'refused', reason: body.message ?? `HTTP ${status}` };
  return { status: 'unreachable', reason: `HTTP ${status}: ${body.message ?? ''}` };
}

/** Renew at half the remaining lifetime, at least every minute's worth of margin. Pure. */
export function renewalDelayMs(expiresAt: string, nowMs: number): number {
  return Math.max(1000, (Date.parse(expiresAt) - nowMs) / 2);
}
