/** What the global CP said about this zone's token. */
export type AuthOutcome =
  | { status: 'ok'; tenants: string[] }
  | { status: 'refused'; reason: string }
  | { status: 'unreachable'; reason: string };

/**
 * Proves the zone token to the global CP. A definite no (401, 403, 404) is
 * "refused"; anything else that fails (network, 5xx) is "unreachable" and
 * worth retrying.
 */
export async function authenticateZone(globalUrl: string, zone: string, token: string, timeoutMs = 5000): Promise<AuthOutcome> {
  let response: Response;
  try {
    response = await fetch(`${globalUrl.replace(/\/+$/, '')}/api/v1/zones/${encodeURIComponent(zone)}/placement`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return { status: 'unreachable', reason: cause?.code ?? (error as Error).message };
  }
  const body = (await response.json().catch(() => ({}))) as { message?: string; tenants?: Array<{ name: string }> };
  if (response.ok) return { status: 'ok', tenants: (body.tenants ?? []).map((t) => t.name) };
  if (response.status === 401) return { status: 'refused', reason: 'the zone token is wrong or revoked (401)' };
  if (response.status === 403) return { status: 'refused', reason: `the token is not this zone's token (403: ${body.message ?? ''})` };
  if (response.status === 404) return { status: 'refused', reason: `zone "${zone}" is not registered at the global CP (404)` };
  return { status: 'unreachable', reason: `HTTP ${response.status}: ${body.message ?? ''}` };
}
