import { CtlError } from './errors.js';
import type { CtlConnection } from './config.js';

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

interface ErrorBody {
  error?: string;
  message?: string;
  details?: Array<{ path: string; message: string }>;
}

/** A small client of the global CP REST API: JSON in, JSON out, API errors turned into CtlErrors. */
export class ApiClient {
  constructor(private readonly connection: CtlConnection) {}

  /** Sends a request; statuses listed in `allow` are returned instead of thrown. */
  async request<T = unknown>(method: string, path: string, body?: unknown, options: { allow?: number[]; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> {
    const url = `${this.connection.server}/api/v1${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.connection.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CtlError(`cannot reach the global CP at ${this.connection.server}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new CtlError(`${method} ${path}: the server answered ${response.status} with a body that is not JSON`);
      }
    }
    if (response.ok || options.allow?.includes(response.status)) return { status: response.status, body: parsed as T, headers: response.headers };
    const err = (parsed ?? {}) as ErrorBody;
    throw new CtlError(`${err.message ?? `${method} ${path} failed`} (HTTP ${response.status}${err.error ? ` ${err.error}` : ''})`, (err.details ?? []).map((d) => `${d.path}: ${d.message}`));
  }
}
