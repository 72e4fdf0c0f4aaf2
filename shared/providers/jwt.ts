/**
 * Compact JWS with RS256, on node:crypto alone: signing for JWT bearer grants
 * (Salesforce, Google service accounts) and verification for OIDC tokens
 * (Google Pub/Sub push). Claim checks (iss, aud, exp, …) belong to the caller.
 */
import { createPublicKey, sign, verify, type JsonWebKey } from 'node:crypto';
import { z } from 'zod';

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

export function signJwtRs256(claims: Record<string, unknown>, privateKeyPem: string, keyId?: string): string {
  const header = { alg: 'RS256', typ: 'JWT', ...(keyId === undefined ? {} : { kid: keyId }) };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = sign('RSA-SHA256', Buffer.from(input), privateKeyPem);
  return `${input}.${b64url(signature)}`;
}

const headerSchema = z.object({ alg: z.string(), kid: z.string().optional(), typ: z.string().optional(), crit: z.unknown().optional() });

/** The reason verifyJwtRs256 gives for a `kid` not in the set: the caller may refresh the set once and retry. */
export const UNKNOWN_KEY = 'signing key not found';

export type JwtResult =
  | { ok: true; header: z.infer<typeof headerSchema>; claims: Record<string, unknown> }
  | { ok: false; reason: string };

/**
 * Verify an RS256 JWT against a key set. Fails closed: any other alg
 * (including `none` and HS256 — the classic key-confusion attack), a missing
 * or unknown `kid`, or a bad signature is a failure with a reason.
 */
export function verifyJwtRs256(token: string, keys: readonly JsonWebKey[]): JwtResult {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'token is not a compact JWS' };
  const [h, p, s] = parts as [string, string, string];
  let header: z.infer<typeof headerSchema>;
  let claims: unknown;
  try {
    header = headerSchema.parse(JSON.parse(Buffer.from(h, 'base64url').toString('utf8')));
    claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'token header or payload is not JSON' };
  }
  if (header.alg !== 'RS256') return { ok: false, reason: `alg ${header.alg} is not accepted` };
  // RFC 7515 §4.1.11: a `crit` header names extensions the recipient must understand; we understand none.
  if (header.crit !== undefined) return { ok: false, reason: 'token has critical header extensions (crit), none of which are supported' };
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) return { ok: false, reason: 'claims are not an object' };
  const jwk = keys.find((k) => k.kid === header.kid && (k.kty === 'RSA'));
  if (header.kid === undefined || !jwk) return { ok: false, reason: UNKNOWN_KEY };
  let valid = false;
  try {
    valid = verify('RSA-SHA256', Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url'));
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, reason: 'signature mismatch' };
  return { ok: true, header, claims: claims as Record<string, unknown> };
}
