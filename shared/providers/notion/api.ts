/**
 * What every Notion REST call shares: the headers (bearer token from either
 * credential type, the pinned `Notion-Version`), URL building, and the call
 * itself through providerFetch, with two Notion-specific refinements of the
 * typed errors:
 *
 * - 529 `service_overload` comes with Retry-After like a 429 and is retried
 *   after it (RateLimitedError), not right away;
 * - 409 `conflict_error` means "make sure the parameters are up to date and
 *   try again" (https://developers.notion.com/reference/status-codes): retryable.
 *
 * Other 4xx stay unrecoverable, as NotionRequestError carrying the status
 * and Notion's error `code`, so push can tell a 404 from a 400 without
 * reading messages.
 */
import { RateLimitedError, RetryableError, SyncError, UnrecoverableError } from '../../errors';
import { DEFAULT_RETRY_AFTER_MS, providerFetch, readJson, type ProviderFetchContext } from '../../http/provider-fetch';
import type { RateLimitSignal } from '../types';
import { parseNotionRateLimit } from './ratelimit';
import { notionErrorSchema, type NotionCredentials } from './schemas';

/**
 * The API version this provider speaks: the first with data sources
 * (https://developers.notion.com/docs/upgrade-guide-2025-09-03). The header
 * is required on every request (https://developers.notion.com/reference/versioning).
 */
export const NOTION_VERSION = '2025-09-03';

/** An unrecoverable Notion answer (4xx), with what Notion said. */
export class NotionRequestError extends UnrecoverableError {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The bearer token of either credential type. */
export function notionAccessToken(credentials: NotionCredentials): string {
  return credentials.type === 'internal' ? credentials.token : credentials.accessToken;
}

export function notionHeaders(credentials: NotionCredentials): Record<string, string> {
  return {
    Authorization: `Bearer ${notionAccessToken(credentials)}`,
    'Notion-Version': NOTION_VERSION,
    Accept: 'application/json',
    'Content-Type': 'application/json',
  };
}

/** `{base}/v1/{path}`, keeping a path prefix on the base URL (a proxy may serve the API under one). */
export function notionUrl(baseUrl: string, path: string): URL {
  const base = new URL(baseUrl);
  return new URL(`v1/${path}`, base.href.endsWith('/') ? base.href : `${base.href}/`);
}

export function describeNotionError(body: unknown): string | undefined {
  const parsed = notionErrorSchema.safeParse(body);
  return parsed.success ? `${parsed.data.code}: ${parsed.data.message}` : undefined;
}

export interface NotionCall extends ProviderFetchContext {
  baseUrl: string;
  credentials: NotionCredentials;
}

/** One JSON request to the Notion API; returns the parsed 2xx body or throws a typed error. */
export async function notionRequest(
  ctx: NotionCall,
  method: 'GET' | 'POST' | 'PATCH',
  path: string,
  operation: string,
  body?: Record<string, unknown>,
): Promise<unknown> {
  let status = 0;
  let code: string | undefined;
  let signal: RateLimitSignal = {};
  const init: RequestInit = { method, headers: notionHeaders(ctx.credentials) };
  if (body !== undefined) init.body = JSON.stringify(body);
  try {
    const response = await providerFetch(ctx, notionUrl(ctx.baseUrl, path), init, {
      operation,
      parseRateLimit: (s, headers) => {
        status = s;
        signal = parseNotionRateLimit(s, headers);
        return signal;
      },
      describe: (errorBody) => {
        const parsed = notionErrorSchema.safeParse(errorBody);
        if (parsed.success) code = parsed.data.code;
        return describeNotionError(errorBody);
      },
    });
    return await readJson(response, operation);
  } catch (error) {
    throw refine(error, status, code, signal);
  }
}

function refine(error: unknown, status: number, code: string | undefined, signal: RateLimitSignal): unknown {
  if (!(error instanceof SyncError)) return error;
  if (status === 529 && error instanceof RetryableError) {
    return new RateLimitedError(error.message, signal.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS, { cause: error });
  }
  if (status === 409 && error instanceof UnrecoverableError) return new RetryableError(error.message, { cause: error });
  if (error instanceof UnrecoverableError && status >= 400 && status < 500) {
    return new NotionRequestError(error.message, status, code, { cause: error });
  }
  return error;
}

/** zod issues as a short, value-free summary for error messages. */
export function summariseIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 3)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}
