import { badRequest } from '../../core/errors.js';
import type { Expect } from '../store/records.js';

/**
 * Reads the optimistic-concurrency precondition of a write: If-Match (a
 * resourceVersion, quoted like an ETag or not), If-None-Match: * (create
 * only), or a resourceVersion in the body's metadata as Kubernetes does.
 * Returns `fallback` when the client stated none.
 */
export function preconditionFrom(
  headers: Record<string, string | string[] | undefined>,
  bodyResourceVersion: string | undefined,
  fallback: Expect,
): Expect {
  const ifMatch = single(headers['if-match']);
  const ifNoneMatch = single(headers['if-none-match']);
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw badRequest('send If-Match or If-None-Match, not both', [{ path: '/headers/if-match', message: 'conflicts with If-None-Match' }]);
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') throw badRequest('If-None-Match supports only "*"', [{ path: '/headers/if-none-match', message: 'must be *' }]);
    return 'create';
  }
  if (ifMatch !== undefined) {
    const rv = ifMatch.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
    if (rv === '*') return 'exists';
    if (!/^[0-9]{1,20}$/.test(rv)) throw badRequest(`If-Match "${ifMatch}" is not a resourceVersion`, [{ path: '/headers/if-match', message: 'must be a resourceVersion' }]);
    return { resourceVersion: rv };
  }
  if (bodyResourceVersion !== undefined && bodyResourceVersion !== '') return { resourceVersion: bodyResourceVersion };
  return fallback;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export const etag = (resourceVersion: string) => `"${resourceVersion}"`;

/** Response header of PUT and PATCH: created, updated or unchanged (an identical write changes nothing). */
export const WRITE_RESULT_HEADER = 'meshfed-write';
