/**
 * OAuth 2.0 token endpoint calls shared by providers: authorization-code
 * exchange, refresh and JWT bearer grants (RFC 6749, 7523), PKCE S256
 * (RFC 7636). Responses are validated with zod; `invalid_grant` (revoked,
 * expired or reused refresh token) becomes an AuthError so the integration is
 * marked needs_reauth instead of retried.
 */
import { parseJsonOrUndefined } from '../http/json';
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AuthError, RateLimitedError, RetryableError, UnrecoverableError } from '../errors';

export const tokenResponseSchema = z
  .object({
    access_token: z.string().min(1),
    token_type: z.string().optional(),
    refresh_token: z.string().min(1).optional(),
    expires_in: z.coerce.number().positive().optional(),
    scope: z.string().optional(),
  })
  .loose();
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

const errorSchema = z.object({ error: z.string(), error_description: z.string().optional() }).loose();

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface TokenRequest {
  url: string;
  params: Record<string, string>;
  /** Client authentication: HTTP Basic (RFC 6749 §2.3.1) or form fields. */
  client?: { id: string; secret: string; method: 'basic' | 'body' };
  /** Notion's token endpoint takes JSON; everyone else takes a form. */
  encoding?: 'form' | 'json';
  fetch: typeof fetch;
}

/** POST to a token endpoint; returns the raw JSON object (callers parse provider extras like `instance_url`). */
export async function requestToken(req: TokenRequest): Promise<Record<string, unknown>> {
  const params: Record<string, string> = { ...req.params };
  const headers: Record<string, string> = { accept: 'application/json' };
  if (req.client?.method === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(req.client.id)}:${encodeURIComponent(req.client.secret)}`).toString('base64')}`;
  } else if (req.client) {
    params.client_id = req.client.id;
    params.client_secret = req.client.secret;
  }
  const json = req.encoding === 'json';
  headers['content-type'] = json ? 'application/json' : 'application/x-www-form-urlencoded';
  let res: Response;
  try {
    res = await req.fetch(req.url, {
      method: 'POST',
      headers,
      body: json ? JSON.stringify(params) : new URLSearchParams(params).toString(),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new RetryableError('token endpoint unreachable', { cause: error });
  }
  const text = await res.text();
  const body = parseJsonOrUndefined(text);
  if (res.ok && body && typeof body === 'object') return body as Record<string, unknown>;
  const err = errorSchema.safeParse(body);
  const code = err.success ? err.data.error : `http_${res.status}`;
  // Only the OAuth error code reaches the message: descriptions can echo request values.
  if (code === 'invalid_grant' || code === 'invalid_client' || code === 'unauthorized_client' || res.status === 401) {
    throw new AuthError(`token endpoint refused the grant (${code})`);
  }
  if (res.status === 429) throw new RateLimitedError('token endpoint rate limited', (Number(res.headers.get('retry-after')) || 60) * 1000);
  if (res.status >= 500) throw new RetryableError(`token endpoint failed (${res.status})`);
  throw new UnrecoverableError(`token endpoint rejected the request (${code})`);
}

/** Expiry instant from `expires_in`, when the provider sends one. */
export function expiresAtFrom(token: TokenResponse, now: number = Date.now()): number | undefined {
  return token.expires_in === undefined ? undefined : now + token.expires_in * 1000;
}
