/**
 * The sandbox's OAuth server: connected apps, users, authorization codes
 * (PKCE), access tokens and refresh-token families.
 * https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_flows.htm
 *
 * - Authorization codes are single-use and live 15 minutes.
 * - Refresh tokens are issued when the granted scope has `refresh_token` or
 *   `offline_access`. With rotation on (per app), every refresh returns a new
 *   one and the old dies; presenting a dead one again is treated as theft:
 *   the whole family (every refresh and access token descended from the
 *   grant) is revoked and the answer is invalid_grant.
 * - JWT bearer assertions are RS256, checked against the app's certificate:
 *   iss = client id, sub = a pre-authorised user, aud = the login URL,
 *   exp no more than three minutes ahead.
 * - Client credentials work on the My Domain (instance) only.
 */
import { createHash, createHmac, createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { salesforceId } from './ids';

export interface ConnectedApp {
  clientId: string;
  /** Omit for a public client (PKCE only). */
  clientSecret?: string;
  redirectUris?: string[];
  /** Refresh Token Rotation (off by default, as in Salesforce). */
  rotateRefreshTokens?: boolean;
  /** PEM certificate or public key for the JWT bearer flow. */
  certificate?: string;
  /** Users pre-authorised for the JWT bearer flow (default: every user). */
  preauthorizedUsers?: string[];
  /** The "Run As" user of the client credentials flow; the flow is off without one. */
  clientCredentialsUser?: string;
}

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

interface AppState extends Omit<ConnectedApp, 'certificate'> {
  publicKey?: KeyObject;
}

interface AccessToken {
  username: string;
  issuedAt: number;
  family?: string;
  revoked: boolean;
}

interface RefreshToken {
  family: string;
  clientId: string;
  username: string;
  scope: string;
  state: 'active' | 'used' | 'revoked';
}

interface Code {
  clientId: string;
  redirectUri: string;
  username: string;
  scope: string;
  challenge?: string;
  expiresAt: number;
}

/** Salesforce's authorization codes are valid for 15 minutes. */
const CODE_TTL_MS = 15 * 60 * 1000;
/** "exp: within 3 minutes" (JWT bearer flow docs). */
const MAX_JWT_LIFETIME_S = 180;
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export class SandboxOAuth {
  private readonly apps = new Map<string, AppState>();
  private readonly users = new Map<string, string>();
  private readonly codes = new Map<string, Code>();
  private readonly access = new Map<string, AccessToken>();
  private readonly refresh = new Map<string, RefreshToken>();
  private seq = 1;

  constructor(
    private readonly organizationId: string,
    private readonly urls: { login: () => string; instance: () => string },
    private readonly now: () => number,
    private readonly sessionTimeoutMs: number,
  ) {}

  addApp(app: ConnectedApp): void {
    const state: AppState = { ...app };
    if (app.certificate) state.publicKey = createPublicKey(app.certificate);
    this.apps.set(app.clientId, state);
  }

  addUser(username: string): string {
    let id = this.users.get(username);
    if (!id) {
      id = salesforceId('005', this.seq++);
      this.users.set(username, id);
    }
    return id;
  }

  /** A session with no refresh token (a "static" token, as `sf org display` prints). */
  issueAccessToken(username: string): string {
    this.addUser(username);
    return this.newAccessToken(username);
  }

  isValid(token: string): boolean {
    const t = this.access.get(token);
    return t !== undefined && !t.revoked && this.now() - t.issuedAt < this.sessionTimeoutMs;
  }

  /** Ends a session early (the org's timeout, or an admin). `undefined` ends them all. */
  expire(token?: string): void {
    for (const [key, t] of this.access) if (token === undefined || key === token) t.issuedAt = -Infinity;
  }

  /** Revokes an access token, or a refresh token with its whole family (`/services/oauth2/revoke`). */
  revoke(token: string): boolean {
    const a = this.access.get(token);
    if (a) {
      a.revoked = true;
      return true;
    }
    const r = this.refresh.get(token);
    if (!r) return false;
    this.revokeFamily(r.family);
    return true;
  }

  /** GET /services/oauth2/authorize, auto-approved as `username`: the redirect URL, or an error to show. */
  authorize(q: URLSearchParams, username: string): { redirect: string } | TokenAnswer {
    const app = this.apps.get(q.get('client_id') ?? '');
    if (!app) return fail('invalid_client_id', 'client identifier invalid');
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!(app.redirectUris ?? []).includes(redirectUri)) return fail('redirect_uri_mismatch', 'redirect_uri must match configuration');
    const back = new URL(redirectUri);
    const state = q.get('state');
    if (state !== null) back.searchParams.set('state', state);
    const error = (code: string, description: string): { redirect: string } => {
      back.searchParams.set('error', code);
      back.searchParams.set('error_description', description);
      return { redirect: back.href };
    };
    if (q.get('response_type') !== 'code') return error('unsupported_response_type', 'response type not supported');
    const challenge = q.get('code_challenge') ?? undefined;
    if (challenge !== undefined && (q.get('code_challenge_method') ?? 'S256') !== 'S256') return error('invalid_request', 'invalid code_challenge_method');
    this.addUser(username);
    const code = `aPrx${randomBytes(24).toString('base64url')}`;
    const entry: Code = { clientId: app.clientId, redirectUri, username, scope: q.get('scope') ?? 'api', expiresAt: this.now() + CODE_TTL_MS };
    if (challenge !== undefined) entry.challenge = challenge;
    this.codes.set(code, entry);
    back.searchParams.set('code', code);
    return { redirect: back.href };
  }

  /** POST /services/oauth2/token. `onInstance`: the request came to the My Domain, not the login URL. */
  token(form: URLSearchParams, basic: { id: string; secret: string } | undefined, onInstance: boolean): TokenAnswer {
    const grant = form.get('grant_type');
    const clientId = basic?.id ?? form.get('client_id') ?? '';
    const clientSecret = basic?.secret ?? form.get('client_secret') ?? undefined;
    switch (grant) {
      case 'authorization_code':
        return this.codeGrant(form, clientId, clientSecret);
      case 'refresh_token':
        return this.refreshGrant(form, clientId, clientSecret);
      case JWT_BEARER:
        return this.jwtGrant(form.get('assertion') ?? '');
      case 'client_credentials':
        if (!onInstance) return fail('invalid_grant', 'request not supported on this domain');
        return this.clientCredentialsGrant(clientId, clientSecret);
      default:
        return fail('unsupported_grant_type', 'grant type not supported');
    }
  }

  private codeGrant(form: URLSearchParams, clientId: string, clientSecret: string | undefined): TokenAnswer {
    const app = this.apps.get(clientId);
    if (!app) return fail('invalid_client_id', 'client identifier invalid');
    if (!secretMatches(app, clientSecret)) return fail('invalid_client', 'invalid client credentials');
    const code = this.codes.get(form.get('code') ?? '');
    // Single use: the code dies on its first presentation, good or bad.
    this.codes.delete(form.get('code') ?? '');
    if (!code || code.clientId !== clientId || code.expiresAt <= this.now()) return fail('invalid_grant', 'expired authorization code');
    if (form.get('redirect_uri') !== code.redirectUri) return fail('redirect_uri_mismatch', 'redirect_uri must match configuration');
    if (code.challenge !== undefined) {
      const verifier = form.get('code_verifier') ?? '';
      if (createHash('sha256').update(verifier).digest('base64url') !== code.challenge) return fail('invalid_grant', 'invalid code verifier');
    }
    const offline = /\b(?:refresh_token|offline_access)\b/.test(code.scope);
    const family = offline ? this.newFamily() : undefined;
    return this.session(app, code.username, code.scope, family, family !== undefined);
  }

  private refreshGrant(form: URLSearchParams, clientId: string, clientSecret: string | undefined): TokenAnswer {
    const app = this.apps.get(clientId);
    if (!app) return fail('invalid_client_id', 'client identifier invalid');
    if (!secretMatches(app, clientSecret)) return fail('invalid_client', 'invalid client credentials');
    const token = this.refresh.get(form.get('refresh_token') ?? '');
    if (!token || token.clientId !== clientId || token.state === 'revoked') return fail('invalid_grant', 'expired access/refresh token');
    if (token.state === 'used') {
      // A rotated-out token came back: someone else may hold the family. Kill all of it.
      this.revokeFamily(token.family);
      return fail('invalid_grant', 'expired access/refresh token');
    }
    const rotate = app.rotateRefreshTokens === true;
    if (rotate) token.state = 'used';
    return this.session(app, token.username, token.scope, token.family, rotate);
  }

  private jwtGrant(assertion: string): TokenAnswer {
    const parts = assertion.split('.');
    if (parts.length !== 3) return fail('invalid_grant', 'invalid assertion');
    const [h, p, s] = parts as [string, string, string];
    let header: unknown;
    let claims: unknown;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    } catch {
      return fail('invalid_grant', 'invalid assertion');
    }
    if (!isRecord(header) || header.alg !== 'RS256' || !isRecord(claims)) return fail('invalid_grant', 'invalid assertion');
    const app = typeof claims.iss === 'string' ? this.apps.get(claims.iss) : undefined;
    if (!app?.publicKey) return fail('invalid_client_id', 'client identifier invalid');
    if (!verify('RSA-SHA256', Buffer.from(`${h}.${p}`), app.publicKey, Buffer.from(s, 'base64url'))) return fail('invalid_grant', 'invalid assertion');
    const audiences = [this.urls.login(), this.urls.instance(), 'https://login.salesforce.com', 'https://test.salesforce.com'];
    if (typeof claims.aud !== 'string' || !audiences.includes(claims.aud.replace(/\/$/, ''))) return fail('invalid_grant', 'audience is invalid');
    const nowS = Math.floor(this.now() / 1000);
    if (typeof claims.exp !== 'number' || claims.exp <= nowS || claims.exp > nowS + MAX_JWT_LIFETIME_S) return fail('invalid_grant', 'expired JWT or exp too far ahead');
    const username = typeof claims.sub === 'string' ? claims.sub : '';
    if (!this.users.has(username) || (app.preauthorizedUsers && !app.preauthorizedUsers.includes(username))) {
      return fail('invalid_grant', "user hasn't approved this consumer");
    }
    return this.session(app, username, 'api', undefined, false);
  }

  private clientCredentialsGrant(clientId: string, clientSecret: string | undefined): TokenAnswer {
    const app = this.apps.get(clientId);
    if (!app) return fail('invalid_client_id', 'client identifier invalid');
    if (!app.clientSecret || !secretMatches(app, clientSecret)) return fail('invalid_client', 'invalid client credentials');
    if (!app.clientCredentialsUser) return fail('invalid_grant', 'no client credentials user enabled');
    this.addUser(app.clientCredentialsUser);
    return this.session(app, app.clientCredentialsUser, 'api', undefined, false);
  }

  /** A token response as Salesforce writes it (no `expires_in`; `signature` over id + issued_at). */
  private session(app: AppState, username: string, scope: string, family: string | undefined, withRefresh: boolean): TokenAnswer {
    const issuedAt = this.now();
    const accessToken = this.newAccessToken(username, family);
    const id = `${this.urls.login()}/id/${this.organizationId}/${this.users.get(username) ?? ''}`;
    const body: Record<string, unknown> = { access_token: accessToken };
    if (withRefresh && family !== undefined) {
      const refreshToken = `5Aep${randomBytes(32).toString('base64url')}`;
      this.refresh.set(refreshToken, { family, clientId: app.clientId, username, scope, state: 'active' });
      body.refresh_token = refreshToken;
    }
    if (app.clientSecret) body.signature = createHmac('sha256', app.clientSecret).update(id + String(issuedAt)).digest('base64');
    Object.assign(body, { scope, instance_url: this.urls.instance(), id, token_type: 'Bearer', issued_at: String(issuedAt) });
    return { status: 200, body };
  }

  private newAccessToken(username: string, family?: string): string {
    const token = `${this.organizationId.slice(0, 15)}!AQ${randomBytes(40).toString('base64url')}`;
    const entry: AccessToken = { username, issuedAt: this.now(), revoked: false };
    if (family !== undefined) entry.family = family;
    this.access.set(token, entry);
    return token;
  }

  private newFamily(): string {
    return `family-${this.seq++}`;
  }

  private revokeFamily(family: string): void {
    for (const r of this.refresh.values()) if (r.family === family) r.state = 'revoked';
    for (const a of this.access.values()) if (a.family === family) a.revoked = true;
  }
}

function secretMatches(app: AppState, given: string | undefined): boolean {
  // Public clients send no secret; a confidential client must send its own.
  return app.clientSecret === undefined ? given === undefined || given === '' : given === app.clientSecret;
}

function fail(error: string, description: string): TokenAnswer {
  return { status: 400, body: { error, error_description: description } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
