/**
 * The Notion sandbox's OAuth side: public-integration clients, authorization
 * codes, and token families with refresh-token rotation.
 * https://developers.notion.com/docs/authorization
 * https://developers.notion.com/reference/create-a-token
 * https://developers.notion.com/reference/refresh-a-token
 *
 * - The token endpoint takes HTTP Basic client_id:client_secret and a JSON
 *   body; answers carry no `expires_in`.
 * - Codes are single use, bound to the client, the redirect_uri and (when the
 *   authorize request sent one) an S256 code_challenge. Notion does not
 *   document PKCE; the sandbox checks it so a client that sends it is tested.
 * - A refresh returns a new access token and a new refresh token; the old
 *   pair stops working (the stricter reading: Notion documents the new pair,
 *   not the old access token's fate). Presenting a used refresh token again is a replay:
 *   `invalid_grant`, and the whole family (every token descended from that
 *   authorization) is revoked (RFC 9700 §4.14.2).
 * Errors use the OAuth shape the token reference shows: `{error, error_description}`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a code stays exchangeable (RFC 6749 §4.1.2 recommends at most 10 minutes). */
const CODE_TTL_MS = 10 * 60 * 1000;

export interface OAuthClientRecord {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

interface CodeRecord {
  clientId: string;
  redirectUri: string;
  challenge?: string;
  expiresAt: number;
  used: boolean;
  family?: Family;
}

interface Family {
  clientId: string;
  revoked: boolean;
  accessTokens: Set<string>;
  /** refresh token → already exchanged? */
  refreshTokens: Map<string, boolean>;
}

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** What the OAuth side needs from the API side: make an access token usable, or not. */
export interface TokenRegistry {
  activate(accessToken: string): void;
  revoke(accessToken: string): void;
}

/** `redirect`: whether the error may go back to the redirect URI (not for an unknown client or URI). */
export type AuthorizeFailure = { ok: false; error: string; description: string; redirect: boolean };
export type AuthorizeResult = { ok: true; code: string } | AuthorizeFailure;
type AuthorizeParams = { clientId: string; redirectUri: string; codeChallenge?: string; codeChallengeMethod?: string };

export class NotionOAuth {
  private readonly clients = new Map<string, OAuthClientRecord>();
  private readonly codes = new Map<string, CodeRecord>();
  private readonly refreshIndex = new Map<string, Family>();

  constructor(
    private readonly registry: TokenRegistry,
    private readonly workspace: { id: string; name: string; botId: string; ownerId: string },
    private readonly now: () => number,
  ) {}

  registerClient(client: OAuthClientRecord): void {
    this.clients.set(client.clientId, { ...client, redirectUris: [...client.redirectUris] });
  }

  /** The user's consent, granted at once: a code for the client (what the consent screen redirects with). */
  authorize(params: AuthorizeParams): AuthorizeResult {
    const checked = this.checkRedirect(params);
    if (!checked.ok) return checked;
    if (params.codeChallenge !== undefined && params.codeChallengeMethod !== 'S256') {
      return { ok: false, error: 'invalid_request', description: 'code_challenge_method must be S256.', redirect: true };
    }
    const client = checked.client;
    const code = `code_${randomBytes(16).toString('hex')}`;
    const record: CodeRecord = { clientId: client.clientId, redirectUri: params.redirectUri, expiresAt: this.now() + CODE_TTL_MS, used: false };
    if (params.codeChallenge !== undefined) record.challenge = params.codeChallenge;
    this.codes.set(code, record);
    return { ok: true, code };
  }

  /** The client and redirect URI check every authorize request starts with. */
  checkRedirect(params: AuthorizeParams): { ok: true; client: OAuthClientRecord } | AuthorizeFailure {
    const client = this.clients.get(params.clientId);
    if (!client) return { ok: false, error: 'invalid_client', description: 'Unknown client_id.', redirect: false };
    if (!client.redirectUris.includes(params.redirectUri)) return { ok: false, error: 'invalid_request', description: 'redirect_uri is not registered.', redirect: false };
    return { ok: true, client };
  }

  /** `POST /v1/oauth/token` after the router parsed Basic auth and the JSON body. */
  token(basic: { id: string; secret: string } | undefined, body: Record<string, unknown>): TokenAnswer {
    const client = basic ? this.clients.get(basic.id) : undefined;
    if (!basic || !client || !sameSecret(client.clientSecret, basic.secret)) return oauthError(401, 'invalid_client', 'Client authentication failed.');
    if (body.grant_type === 'authorization_code') return this.exchangeCode(client, body);
    if (body.grant_type === 'refresh_token') return this.refresh(client, body);
    return oauthError(400, 'unsupported_grant_type', 'grant_type must be authorization_code or refresh_token.');
  }

  /** Revokes every token of the family a token (access or refresh) belongs to. */
  revokeFamilyOf(token: string): void {
    const family = this.refreshIndex.get(token) ?? [...this.refreshIndex.values()].find((f) => f.accessTokens.has(token));
    if (family) this.revokeFamily(family);
  }

  private exchangeCode(client: OAuthClientRecord, body: Record<string, unknown>): TokenAnswer {
    const code = typeof body.code === 'string' ? this.codes.get(body.code) : undefined;
    if (!code || code.clientId !== client.clientId) return invalidGrant('Invalid code.');
    if (code.used) {
      // A code presented twice: what it granted is revoked too (RFC 6749 §4.1.2).
      if (code.family) this.revokeFamily(code.family);
      return invalidGrant('Invalid code: this code has been revoked.');
    }
    if (code.expiresAt <= this.now()) return invalidGrant('Invalid code: this code has expired.');
    if (body.redirect_uri !== undefined && body.redirect_uri !== code.redirectUri) return invalidGrant('redirect_uri does not match the authorization request.');
    if (code.challenge !== undefined) {
      const verifier = typeof body.code_verifier === 'string' ? body.code_verifier : '';
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || createHash('sha256').update(verifier).digest('base64url') !== code.challenge) {
        return invalidGrant('code_verifier does not match the code_challenge.');
      }
    }
    code.used = true;
    const family: Family = { clientId: client.clientId, revoked: false, accessTokens: new Set(), refreshTokens: new Map() };
    code.family = family;
    return { status: 200, body: this.issue(family) };
  }

  private refresh(client: OAuthClientRecord, body: Record<string, unknown>): TokenAnswer {
    const presented = typeof body.refresh_token === 'string' ? body.refresh_token : '';
    const family = this.refreshIndex.get(presented);
    if (!family || family.revoked || family.clientId !== client.clientId) return invalidGrant('Invalid refresh token.');
    if (family.refreshTokens.get(presented) === true) {
      this.revokeFamily(family);
      return invalidGrant('Invalid refresh token: this token has already been used.');
    }
    family.refreshTokens.set(presented, true);
    // Rotation: the access tokens issued so far stop working with the old refresh token.
    for (const token of family.accessTokens) this.registry.revoke(token);
    family.accessTokens.clear();
    return { status: 200, body: this.issue(family) };
  }

  private issue(family: Family): Record<string, unknown> {
    const accessToken = `ntn_${randomBytes(20).toString('hex')}`;
    const refreshToken = `nrt_${randomBytes(20).toString('hex')}`;
    family.accessTokens.add(accessToken);
    family.refreshTokens.set(refreshToken, false);
    this.refreshIndex.set(refreshToken, family);
    this.registry.activate(accessToken);
    return {
      access_token: accessToken,
      token_type: 'bearer',
      refresh_token: refreshToken,
      bot_id: this.workspace.botId,
      workspace_id: this.workspace.id,
      workspace_name: this.workspace.name,
      workspace_icon: null,
      owner: { type: 'user', user: { object: 'user', id: this.workspace.ownerId } },
      duplicated_template_id: null,
      request_id: randomBytes(16).toString('hex'),
    };
  }

  private revokeFamily(family: Family): void {
    family.revoked = true;
    for (const token of family.accessTokens) this.registry.revoke(token);
    for (const token of family.refreshTokens.keys()) family.refreshTokens.set(token, true);
  }
}

function sameSecret(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function oauthError(status: number, error: string, description: string): TokenAnswer {
  return { status, body: { error, error_description: description } };
}

function invalidGrant(description: string): TokenAnswer {
  return oauthError(400, 'invalid_grant', description);
}
