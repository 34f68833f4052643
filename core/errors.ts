import type { ErrorBody } from './schemas/common.js';

export interface ErrorDetail {
  path: string;
  message: string;
}

/** An error meant for an API caller: status code, class, message and field-level details. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): ErrorBody {
    return { error: this.error, message: this.message, details: this.details };
  }
}

export const badRequest = (message: string, details: ErrorDetail[] = []) => new ApiError(400, 'ValidationError', message, details);
export const unauthorized = (message = 'a valid bearer token is required') => new ApiError(401, 'Unauthorized', message);
export const forbidden = (message: string) => new ApiError(403, 'Forbidden', message);
export const notFound = (message: string) => new ApiError(404, 'NotFound', message);
export const conflict = (message: string, details: ErrorDetail[] = []) => new ApiError(409, 'Conflict', message, details);
export const preconditionFailed = (message: string) => new ApiError(412, 'PreconditionFailed', message);
export const quotaExceeded = (message: string) => new ApiError(403, 'QuotaExceeded', message);

/** A startup problem that should end the process with a one-line message, not a stack trace. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
