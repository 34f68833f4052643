import type { FastifyError, FastifyInstance } from 'fastify';
import { ApiError, type ErrorDetail } from '../errors.js';
import { DNS1123_LABEL_PATTERN } from '../schemas/common.js';

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Turns schema-validation failures into {path, message} pairs with JSON pointers such as /body/spec/attempts. */
export function detailsFromValidation(location: string, errors: AjvError[]): ErrorDetail[] {
  const seen = new Set<string>();
  const details: ErrorDetail[] = [];
  for (const e of errors) {
    let path = `/${location}${e.instancePath}`;
    let message = e.message ?? e.keyword;
    if (e.keyword === 'required') {
      path += `/${escapePointer(String(e.params.missingProperty))}`;
      message = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      path += `/${escapePointer(String(e.params.additionalProperty))}`;
      message = 'unknown field';
    } else if (e.keyword === 'const' || e.keyword === 'enum') {
      const allowed = e.params.allowedValue ?? e.params.allowedValues;
      message = `must be ${Array.isArray(allowed) ? `one of ${allowed.join(', ')}` : JSON.stringify(allowed)}`;
    } else if (e.keyword === 'pattern' && e.params.pattern === DNS1123_LABEL_PATTERN) {
      message = 'must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters';
    }
    const key = `${path}\n${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      details.push({ path, message });
    }
  }
  return details.slice(0, 50);
}

/** RFC 6901: ajv's instancePath is escaped already; property names we append must be too. */
function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Every error leaves as {error, message, details} with the right status; nothing internal leaks. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ApiError) return reply.code(error.statusCode).send(error.toBody());
    if (error.validation) {
      const details = detailsFromValidation(error.validationContext ?? 'body', error.validation);
      const first = details[0];
      return reply.code(400).send({
        error: 'ValidationError',
        message: first ? `${first.path}: ${first.message}` : 'request does not match the schema',
        details,
      });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ error: errorClassFor(status, error.code), message: error.message, details: [] });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: 'InternalError', message: 'internal error; see the global CP log', details: [] });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'NotFound', message: `no route for ${request.method} ${request.url.split('?')[0]}`, details: [] }),
  );
}

function errorClassFor(status: number, code: string | undefined): string {
  if (status === 413) return 'PayloadTooLarge';
  if (status === 415) return 'UnsupportedMediaType';
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || status === 400) return 'BadRequest';
  return 'ClientError';
}
