import { timingSafeEqual, createHash } from 'node:crypto';
import type { z } from 'zod';
import { describeError, InputError } from '../errors';
import { jsonFailure, JsonBodyError, parseJson } from '../http/json';
import { describeIssues } from '../messaging/messages';
import type { Logger } from '../observability/logger';
import { ConcurrencyError } from '../storage/port';

/** A request as shared/ sees it: no Azure trigger types past functions/. */
export interface ApiRequest {
  method: string;
  params: Record<string, string>;
  query: URLSearchParams;
  header(name: string): string | undefined;
  text(): Promise<string>;
}

export interface ApiResponse {
  status: number;
  jsonBody: unknown;
  headers?: Record<string, string>;
}

export const ok = (jsonBody: unknown, status = 200): ApiResponse => ({ status, jsonBody });
export const problem = (status: number, error: string, reason: string): ApiResponse => ({ status, jsonBody: { error, reason } });

/** Admin bodies are small; anything bigger is a mistake or an attack. */
export const MAX_ADMIN_BODY_BYTES = 256 * 1024;

export async function readJson<T>(request: ApiRequest, schema: z.ZodType<T>, options: { optional?: boolean } = {}): Promise<T> {
  const text = await request.text();
  // An optional body may be omitted entirely; it then parses as `{}`.
  if (options.optional === true && text.trim() === '') return parseWith(schema, {}, 'body');
  let raw: unknown;
  try {
    // One parser for every JSON body the app reads: size, depth and `__proto__` keys refused before anything is built.
    raw = parseJson(text, { maxBytes: MAX_ADMIN_BODY_BYTES });
  } catch (error) {
    throw new InputError(error instanceof JsonBodyError && error.rejection === 'too_large' ? 413 : 400, jsonFailure(error));
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new InputError(400, describeIssues(parsed.error));
  return parsed.data;
}

export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InputError(400, `${what}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Constant-time key check; hashing first makes the compared lengths equal. */
export function keyMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined || given === '') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The `error` code of each status an InputError can carry: clients switch on it, so it names the status. */
const ERROR_CODES: Record<InputError['status'], string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  412: 'precondition_failed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
};

/** Error → response. Bad input is a 4xx with a reason; anything else is a 503 that names no internals. */
export function toResponse(error: unknown, logger: Logger): ApiResponse {
  if (error instanceof InputError) return problem(error.status, ERROR_CODES[error.status], error.message);
  // The store's 412 is our own If-Match failing, not a precondition the client sent: to the client it is a conflict.
  if (error instanceof ConcurrencyError) return problem(409, 'conflict', 'The resource changed concurrently; read it again and retry');
  logger.error('request failed', { error: describeError(error) });
  return problem(503, 'unavailable', 'A dependency failed; retry later');
}

export type Handler<D> = (deps: D, request: ApiRequest) => Promise<ApiResponse>;

/** Wraps an admin route: key check first, typed errors mapped, nothing thrown. */
export function adminRoute<D extends { adminKey: string; logger: Logger }>(handler: Handler<D>): Handler<D> {
  return async (deps, request) => {
    if (!keyMatches(request.header('x-functions-key'), deps.adminKey)) {
      return problem(401, 'unauthorized', 'Missing or wrong x-functions-key');
    }
    try {
      return await handler(deps, request);
    } catch (error) {
      return toResponse(error, deps.logger);
    }
  };
}
