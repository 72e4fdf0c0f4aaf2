/**
 * The GitHub sandbox's OAuth web flow: registered apps, authorization codes
 * (single use, PKCE S256), and token families whose refresh tokens rotate.
 * https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
 * https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens
 *
 * Rules as GitHub documents them: codes expire after 10 minutes and work
 * once; a refresh returns a new access token *and* a new refresh token, and
 * the used refresh token and the previous access token stop working. Beyond
 * GitHub's docs, the sandbox does what RFC 6819 §5.2.2.3 / the OAuth 2.0
 * Security BCP recommend: presenting a refresh token (or code) a second time
 * revokes the whole family, since a thief or a lost response is the cause.
 * Pure rules; HTTP lives in oauth-routes.ts.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { GithubSandboxState } from './state';

/** "The code will expire after 10 minutes." */
const CODE_TTL_MS = 10 * 60 * 1000;
/** `expires_in` of a user access token: 8 hours. */
export const ACCESS_TOKEN_SECONDS = 28_800;
/** `refresh_token_expires_in` GitHub sends: 184 days (~6 months). */
export const REFRESH_TOKEN_SECONDS = 15_897_600;
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export interface OAuthAppOptions {
  clientId: string;
  clientSecret: string;
  /** The registered callback URL; a `redirect_uri` must be it or a path below it on the same host and port. */
  callbackUrl: string;
  /** Expiring user tokens with refresh tokens (a GitHub App's default). False: non-expiring `gho_` tokens. Default true. */
  expiringTokens?: boolean;
}

/** A token endpoint answer: GitHub sends errors with HTTP 200 too. */
export type TokenAnswer = Record<string, string | number>;

interface Code {
  clientId: string;
  redirectUri: string;
  challenge: string | undefined;
  scope: string;
  expiresAt: number;
  family?: Family;
}

interface Family {
  clientId: string;
  scope: string;
  revoked: boolean;
  accessTokens: string[];
  refreshTokens: Map<string, { state: 'live' | 'used' | 'revoked'; expiresAt: number }>;
}

export class GithubOAuthState {
  private readonly apps = new Map<string, Required<OAuthAppOptions>>();
  private readonly codes = new Map<string, Code>();
  private readonly families = new Map<string, Family>();

  constructor(
    private readonly api: GithubSandboxState,
    private readonly now: () => number,
  ) {}

  registerApp(app: OAuthAppOptions): void {
    this.apps.set(app.clientId, { expiringTokens: true, ...app });
  }

  /** `GET /login/oauth/authorize`, auto-approved: where GitHub would send the browser next. */
  authorize(q: URLSearchParams): { redirect: string } | { status: 404; message: string } {
    const app = this.apps.get(q.get('client_id') ?? '');
    if (!app) return { status: 404, message: 'Not Found' };
    const state = q.get('state');
    const redirectUri = q.get('redirect_uri') ?? app.callbackUrl;
    const back = (target: string, params: Record<string, string>): { redirect: string } => {
      const url = new URL(target);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      if (state !== null) url.searchParams.set('state', state);
      return { redirect: url.href };
    };
    // https://docs.github.com/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-authorization-request-errors
    if (!redirectAllowed(app.callbackUrl, redirectUri)) {
      return back(app.callbackUrl, { error: 'redirect_uri_mismatch', error_description: 'The redirect_uri MUST match the registered callback URL for this application.' });
    }
    const challenge = q.get('code_challenge') ?? undefined;
    if (challenge !== undefined && (q.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(challenge))) {
      return back(redirectUri, { error: 'invalid_request', error_description: 'Only S256 code challenges are supported.' });
    }
    const code = randomBytes(10).toString('hex');
    const scope = (q.get('scope') ?? '').split(/[\s,]+/).filter(Boolean).join(',');
    this.codes.set(code, { clientId: app.clientId, redirectUri, challenge, scope, expiresAt: this.now() + CODE_TTL_MS });
    return back(redirectUri, { code });
  }

  /** `POST /login/oauth/access_token` with the request's parameters (query and body). */
  token(p: URLSearchParams): TokenAnswer {
    const app = this.apps.get(p.get('client_id') ?? '');
    if (!app || !secretMatches(app.clientSecret, p.get('client_secret') ?? '')) {
      return failure('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
    }
    const grant = p.get('grant_type') ?? 'authorization_code';
    if (grant === 'authorization_code') return this.exchange(app, p);
    if (grant === 'refresh_token') return this.refresh(app, p.get('refresh_token') ?? '');
    return failure('unsupported_grant_type', 'The grant type is not supported.');
  }

  /** Revoke one access or refresh token; true when it was live. */
  revoke(token: string): boolean {
    if (this.api.revokeToken(token)) return true;
    for (const family of this.families.values()) {
      const refresh = family.refreshTokens.get(token);
      if (refresh?.state === 'live') {
        refresh.state = 'revoked';
        return true;
      }
    }
    return false;
  }

  /** True once a reuse (or a revocation of the family) killed every token issued from one authorization. */
  isFamilyRevoked(token: string): boolean {
    for (const family of this.families.values()) {
      if (family.accessTokens.includes(token) || family.refreshTokens.has(token)) return family.revoked;
    }
    return false;
  }

  private exchange(app: Required<OAuthAppOptions>, p: URLSearchParams): TokenAnswer {
    const bad = failure('bad_verification_code', 'The code passed is incorrect or expired.');
    const code = this.codes.get(p.get('code') ?? '');
    if (!code || code.clientId !== app.clientId || code.expiresAt <= this.now()) return bad;
    if (code.family) {
      // A code presented twice: whatever it minted is compromised.
      this.revokeFamily(code.family);
      return bad;
    }
    const redirectUri = p.get('redirect_uri');
    if (redirectUri !== null && redirectUri !== code.redirectUri) {
      return failure('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
    }
    if (code.challenge !== undefined) {
      const verifier = p.get('code_verifier') ?? '';
      const computed = createHash('sha256').update(verifier).digest('base64url');
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || !secretMatches(code.challenge, computed)) {
        return failure('bad_verification_code', 'The code_verifier does not match the code_challenge.');
      }
    }
    const family: Family = { clientId: app.clientId, scope: code.scope, revoked: false, accessTokens: [], refreshTokens: new Map() };
    code.family = family;
    this.families.set(randomBytes(8).toString('hex'), family);
    return this.issue(app, family);
  }

  private refresh(app: Required<OAuthAppOptions>, refreshToken: string): TokenAnswer {
    const bad = failure('bad_refresh_token', 'The refresh token passed is incorrect or expired.');
    for (const family of this.families.values()) {
      const entry = family.refreshTokens.get(refreshToken);
      if (!entry) continue;
      if (family.clientId !== app.clientId || family.revoked || entry.state === 'revoked' || entry.expiresAt <= this.now()) return bad;
      if (entry.state === 'used') {
        // Reuse of a rotated refresh token: revoke the whole family, current pair included.
        this.revokeFamily(family);
        return bad;
      }
      entry.state = 'used';
      // The used refresh token's access token dies with it.
      for (const token of family.accessTokens) this.api.revokeToken(token);
      return this.issue(app, family);
    }
    return bad;
  }

  private issue(app: Required<OAuthAppOptions>, family: Family): TokenAnswer {
    const now = this.now();
    if (!app.expiringTokens) {
      const accessToken = `gho_${randomToken(36)}`;
      family.accessTokens.push(accessToken);
      this.api.addToken(accessToken);
      return { access_token: accessToken, token_type: 'bearer', scope: family.scope };
    }
    const accessToken = `ghu_${randomToken(36)}`;
    const refreshToken = `ghr_${randomToken(76)}`;
    family.accessTokens.push(accessToken);
    family.refreshTokens.set(refreshToken, { state: 'live', expiresAt: now + REFRESH_TOKEN_SECONDS * 1000 });
    this.api.addToken(accessToken, undefined, now + ACCESS_TOKEN_SECONDS * 1000);
    return {
      access_token: accessToken,
      expires_in: ACCESS_TOKEN_SECONDS,
      refresh_token: refreshToken,
      refresh_token_expires_in: REFRESH_TOKEN_SECONDS,
      token_type: 'bearer',
      scope: family.scope,
    };
  }

  private revokeFamily(family: Family): void {
    family.revoked = true;
    for (const token of family.accessTokens) this.api.revokeToken(token);
    for (const entry of family.refreshTokens.values()) if (entry.state === 'live') entry.state = 'revoked';
  }
}

function failure(error: string, description: string): TokenAnswer {
  const anchor = error.replace(/_/g, '-');
  return { error, error_description: description, error_uri: `https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#${anchor}` };
}

/** GitHub's rule: same scheme, host and port; the path may go deeper than the registered one. */
function redirectAllowed(callbackUrl: string, redirectUri: string): boolean {
  let registered: URL;
  let given: URL;
  try {
    registered = new URL(callbackUrl);
    given = new URL(redirectUri);
  } catch {
    return false;
  }
  const base = registered.pathname.endsWith('/') ? registered.pathname : `${registered.pathname}/`;
  return given.origin === registered.origin && (given.pathname === registered.pathname || given.pathname.startsWith(base));
}

function secretMatches(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function randomToken(length: number): string {
  return Array.from(randomBytes(length), (byte) => BASE62[byte % BASE62.length]).join('');
}
