/**
 * Who may call the Google sandbox: OAuth clients, authorization codes,
 * access and refresh tokens (grouped in families, one per consent), and
 * service accounts. Pure data and rules; oauth-routes.ts speaks HTTP.
 *
 * Google's refresh tokens do not rotate. With `rotateRefreshTokens` on, the
 * sandbox behaves like a rotating provider instead: each refresh hands out
 * a new refresh token, and presenting a used one is treated as theft —
 * `invalid_grant`, and the whole family (every token from that consent) is
 * revoked (OAuth 2.0 Security BCP, RFC 9700 §4.14.2).
 */
import { randomBytes, type KeyObject } from 'node:crypto';

/** Google access tokens last an hour (`expires_in: 3599`). */
export const ACCESS_TOKEN_TTL_MS = 3599 * 1000;
/** Authorization codes are short-lived and single-use. */
export const CODE_TTL_MS = 10 * 60 * 1000;

export interface OAuthClientRecord {
  secret: string;
  redirectUris: string[];
}

export interface AccessGrant {
  scopes: string[];
  expiresAt: number;
  revoked: boolean;
  subject: string;
  family?: string;
}

interface RefreshRecord {
  clientId: string;
  scopes: string[];
  subject: string;
  family: string;
  state: 'active' | 'used' | 'revoked';
}

export interface CodeRecord {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  subject: string;
  offline: boolean;
  challenge?: string;
  method?: 'S256' | 'plain';
  expiresAt: number;
  used: boolean;
  family: string;
}

export interface ServiceAccountRecord {
  publicKey: KeyObject;
  keyId?: string;
  domainWideDelegation: boolean;
}

export type TokenCheck = { ok: true; grant: AccessGrant } | { ok: false; reason: 'unknown' | 'expired' | 'revoked' };

export class AuthState {
  rotateRefreshTokens = false;
  readonly clients = new Map<string, OAuthClientRecord>();
  readonly codes = new Map<string, CodeRecord>();
  readonly serviceAccounts = new Map<string, ServiceAccountRecord>();
  private readonly access = new Map<string, AccessGrant>();
  private readonly refresh = new Map<string, RefreshRecord>();
  private readonly revokedFamilies = new Set<string>();
  private readonly windows = new Map<string, { start: number; count: number }>();
  private familySeq = 0;

  constructor(
    readonly now: () => number,
    readonly defaultSubject: string,
  ) {}

  newFamily(): string {
    return `family-${++this.familySeq}`;
  }

  addAccessToken(token: string, options: { scopes: string[]; expiresInMs?: number; subject?: string }): void {
    this.access.set(token, {
      scopes: options.scopes,
      expiresAt: this.now() + (options.expiresInMs ?? ACCESS_TOKEN_TTL_MS),
      revoked: false,
      subject: options.subject ?? this.defaultSubject,
    });
  }

  issueAccess(scopes: string[], subject: string, family?: string): string {
    const token = `ya29.${randomBytes(24).toString('base64url')}`;
    const grant: AccessGrant = { scopes, expiresAt: this.now() + ACCESS_TOKEN_TTL_MS, revoked: false, subject };
    if (family !== undefined) grant.family = family;
    this.access.set(token, grant);
    return token;
  }

  issueRefresh(clientId: string, scopes: string[], subject: string, family: string): string {
    const token = `1//${randomBytes(32).toString('base64url')}`;
    this.refresh.set(token, { clientId, scopes, subject, family, state: 'active' });
    return token;
  }

  check(token: string): TokenCheck {
    const grant = this.access.get(token);
    if (!grant) return { ok: false, reason: 'unknown' };
    if (grant.revoked || (grant.family !== undefined && this.revokedFamilies.has(grant.family))) return { ok: false, reason: 'revoked' };
    if (grant.expiresAt <= this.now()) return { ok: false, reason: 'expired' };
    return { ok: true, grant };
  }

  /**
   * Redeem a refresh token. Returns the grant to issue, or why not:
   * 'invalid' (unknown, revoked, other client) or 'reused' (rotation on,
   * token already used → the family is revoked).
   */
  redeemRefresh(token: string, clientId: string): { ok: true; record: RefreshRecord; rotated?: string } | { ok: false; reason: 'invalid' | 'reused' } {
    const record = this.refresh.get(token);
    if (!record || record.clientId !== clientId || record.state === 'revoked' || this.revokedFamilies.has(record.family)) {
      return { ok: false, reason: 'invalid' };
    }
    if (record.state === 'used') {
      this.revokeFamily(record.family);
      return { ok: false, reason: 'reused' };
    }
    if (!this.rotateRefreshTokens) return { ok: true, record };
    record.state = 'used';
    return { ok: true, record, rotated: this.issueRefresh(clientId, record.scopes, record.subject, record.family) };
  }

  revokeFamily(family: string): void {
    this.revokedFamilies.add(family);
  }

  /**
   * Revoke a token as `POST /revoke` does: a refresh token takes its whole
   * family with it; an access token only itself (or its family, when it has one:
   * Google revokes the grant behind either).
   */
  revoke(token: string): boolean {
    const refresh = this.refresh.get(token);
    if (refresh) {
      refresh.state = 'revoked';
      this.revokeFamily(refresh.family);
      return true;
    }
    const grant = this.access.get(token);
    if (!grant) return false;
    grant.revoked = true;
    if (grant.family !== undefined) this.revokeFamily(grant.family);
    return true;
  }

  expireAccessToken(token: string): boolean {
    const grant = this.access.get(token);
    if (!grant) return false;
    grant.expiresAt = this.now() - 1;
    return true;
  }

  /** Per-token request budget in a fixed window; true when this request fits. */
  spend(token: string, limit: number | undefined, windowMs: number): boolean {
    if (limit === undefined) return true;
    const now = this.now();
    const w = this.windows.get(token);
    if (!w || now - w.start >= windowMs) {
      this.windows.set(token, { start: now, count: 1 });
      return 1 <= limit;
    }
    w.count++;
    return w.count <= limit;
  }
}
