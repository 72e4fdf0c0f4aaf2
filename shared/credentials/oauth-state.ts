/**
 * The OAuth `state` parameter: a signed, expiring statement of which
 * integration a connect flow is for. Format `<payload>.<mac>`, both
 * base64url; mac = HMAC-SHA256(OAUTH_STATE_KEY, domain || payload).
 * The state travels through the provider and the browser, so it carries no
 * secret: the PKCE verifier and the browser binding stay server-side in the
 * key-value store under the state's nonce (oauth-flow.ts), which also makes
 * each state usable once.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ID_PATTERN } from '../domain/types';

/** How long a connect flow may take, from start to callback. */
export const STATE_TTL_MS = 10 * 60_000;
/** At least 256 bits of key for HMAC-SHA256 (RFC 2104 §3: shorter keys weaken it). */
export const MIN_STATE_KEY_BYTES = 32;
const MAX_STATE_CHARS = 1024;
const DOMAIN = 'castiel.oauth-state.v1.';
const B64URL = /^[A-Za-z0-9_-]+$/;

const payloadSchema = z.strictObject({
  v: z.literal(1),
  p: z.string().regex(/^[a-z0-9-]{1,64}$/),
  t: z.string().regex(ID_PATTERN),
  i: z.string().regex(ID_PATTERN),
  /** 16 random bytes, base64url. */
  n: z.string().regex(/^[A-Za-z0-9_-]{22}$/),
  /** Expiry, epoch ms. */
  e: z.number().int().positive(),
});

export interface OAuthState {
  provider: string;
  tenantId: string;
  integrationId: string;
  nonce: string;
  expiresAt: number;
}

export type StateCheck = { ok: true; state: OAuthState } | { ok: false; reason: string };

/** The key from its setting (base64); undefined when it is too short to be a key. */
export function parseStateKey(base64: string | undefined): Buffer | undefined {
  if (base64 === undefined || base64 === '') return undefined;
  const key = Buffer.from(base64, 'base64');
  return key.length >= MIN_STATE_KEY_BYTES ? key : undefined;
}

const mac = (key: Buffer, payload: string): Buffer => createHmac('sha256', key).update(DOMAIN + payload).digest();

export function signState(key: Buffer, state: OAuthState): string {
  const payload = Buffer.from(
    JSON.stringify({ v: 1, p: state.provider, t: state.tenantId, i: state.integrationId, n: state.nonce, e: state.expiresAt }),
  ).toString('base64url');
  return `${payload}.${mac(key, payload).toString('base64url')}`;
}

/** Signature first (constant time), then shape, then expiry; every failure is a reason, never an exception. */
export function verifyState(key: Buffer, raw: string, now: number): StateCheck {
  if (raw.length === 0 || raw.length > MAX_STATE_CHARS) return { ok: false, reason: 'state is missing or too long' };
  const parts = raw.split('.');
  if (parts.length !== 2) return { ok: false, reason: 'state is malformed' };
  const [payload, signature] = parts as [string, string];
  if (!B64URL.test(payload) || !B64URL.test(signature)) return { ok: false, reason: 'state is malformed' };
  const given = Buffer.from(signature, 'base64url');
  const expected = mac(key, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'state signature is invalid' };
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'state is malformed' };
  }
  const parsed = payloadSchema.safeParse(decoded);
  if (!parsed.success) return { ok: false, reason: 'state is malformed' };
  const p = parsed.data;
  if (p.e <= now) return { ok: false, reason: 'state has expired; start the connection again' };
  return { ok: true, state: { provider: p.p, tenantId: p.t, integrationId: p.i, nonce: p.n, expiresAt: p.e } };
}

/** One cookie per flow, so two connections started in one browser do not overwrite each other's binding. */
export const flowCookieName = (nonce: string): string => `castiel_oauth_${nonce}`;

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export const sha256Base64url = (text: string): string => createHash('sha256').update(text).digest('base64url');

/** Equal strings, compared in constant time over their hashes. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
