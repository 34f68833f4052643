/** What a call to the global CP came back with: an HTTP answer, or the reason none came. */
export type GlobalCpReply<T> = { reached: true; status: number; body: Partial<T> & { error?: string; message?: string } } | { reached: false; reason: string };

/** One call from the zone CP to the global CP's API, with its zone token; never throws for network errors. */
export async function callGlobalCp<T>(globalUrl: string, token: string, method: string, path: string, body?: unknown, timeoutMs = 5000): Promise<GlobalCpReply<T>> {
  let response: Response;
  try {
    response = await fetch(`${globalUrl.replace(/\/+$/, '')}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return { reached: false, reason: (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message };
  }
  return { reached: true, status: response.status, body: (await response.json().catch(() => ({}))) as Partial<T> };
}

/** What the global CP said about this zone's token. */
export type AuthOutcome =
  | { status: 'ok'; tenants: string[]; region: string | undefined }
  | { status: 'refused'; reason: string }
  | { status: 'unreachable'; reason: string };

/**
 * Proves the zone token to the global CP. A definite no (401, 403, 404) is
 * "refused"; anything else that fails (network, 5xx) is "unreachable" and
 * worth retrying.
 */
export async function authenticateZone(globalUrl: string, zone: string, token: string, timeoutMs = 5000): Promise<AuthOutcome> {
  const reply = await callGlobalCp<{ tenants: Array<{ name: string }>; region: string }>(globalUrl, token, 'GET', `/zones/${encodeURIComponent(zone)}/placement`, undefined, timeoutMs);
  if (!reply.reached) return { status: 'unreachable', reason: reply.reason };
  const { status, body } = reply;
  if (status >= 200 && status < 300) return { status: 'ok', tenants: (body.tenants ?? []).map((t) => t.name), region: body.region };
  if (status === 401) return { status: 'refused', reason: 'the zone token is wrong or revoked (401)' };
  if (status === 403) return { status: 'refused', reason: `the token is not this zone's token (403: ${body.message ?? ''})` };
  if (status === 404) return { status: 'refused', reason: `zone "${zone}" is not registered at the global CP (404)` };
  return { status: 'unreachable', reason: `HTTP ${status}: ${body.message ?? ''}` };
}
