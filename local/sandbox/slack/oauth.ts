/**
 * OAuth v2 of the Slack sandbox: `/oauth/v2/authorize` (approves at once and
 * redirects with a code — there is no consent screen to click) and the
 * `oauth.v2.access` method for the code and refresh grants.
 * https://docs.slack.dev/authentication/installing-with-oauth
 * https://docs.slack.dev/authentication/using-token-rotation
 *
 * - Codes are single-use and live 10 minutes; a code sent twice revokes what
 *   it issued. PKCE S256: a code issued for a `code_challenge` needs the
 *   matching `code_verifier`.
 * - A client with rotation gets `xoxe.xoxb-1-…` tokens that expire after
 *   12 h (`expires_in: 43200`) and a `xoxe-1-…` refresh token; every refresh
 *   returns a new pair and retires the refresh token used. Presenting a
 *   retired refresh token again is treated as theft: the whole grant (every
 *   access and refresh token from it) is revoked.
 * - Failures answer as Slack does: HTTP 200, `{"ok": false, "error": …}`.
 *   `invalid_refresh_token` is Slack's name for OAuth's `invalid_grant`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SlackTokens, TokenIdentity } from './tokens';

/** Rotating access tokens live 12 hours (using-token-rotation). */
export const ROTATING_TOKEN_SECONDS = 43_200;
const CODE_TTL_MS = 10 * 60 * 1000;

export interface SandboxOAuthClient {
  clientId: string;
  clientSecret: string;
  /** Token rotation on (expiring tokens + refresh tokens) or off (tokens never expire). */
  rotation: boolean;
  /** Registered redirect URLs; empty accepts any. */
  redirectUris?: string[];
}

interface Code {
  clientId: string;
  redirectUri: string | undefined;
  challenge: string | undefined;
  scope: string;
  expiresAt: number;
  used: boolean;
  family: string;
}

interface Family {
  clientId: string;
  current: string;
  retired: Set<string>;
  revoked: boolean;
}

export type OAuthReply = { status: number; body: Record<string, unknown> } | { status: 302; location: string };

export class SlackOAuth {
  private readonly clients = new Map<string, SandboxOAuthClient>();
  private readonly codes = new Map<string, Code>();
  private readonly families = new Map<string, Family>();

  constructor(
    private readonly tokens: SlackTokens,
    private readonly identity: TokenIdentity & { teamName: string; installerUserId: string },
    private readonly now: () => number,
  ) {}

  registerClient(client: SandboxOAuthClient): void {
    this.clients.set(client.clientId, structuredClone(client));
  }

  /** GET /oauth/v2/authorize: redirect back with a code, as if the admin clicked "Allow". */
  authorize(query: URLSearchParams): OAuthReply {
    const client = this.clients.get(query.get('client_id') ?? '');
    if (!client) return { status: 400, body: { ok: false, error: 'invalid_client_id' } };
    const redirectUri = query.get('redirect_uri') ?? client.redirectUris?.[0];
    if (redirectUri === undefined || !this.redirectAllowed(client, redirectUri)) return { status: 400, body: { ok: false, error: 'bad_redirect_uri' } };
    const challenge = query.get('code_challenge') ?? undefined;
    if (challenge !== undefined && query.get('code_challenge_method') !== 'S256') return { status: 400, body: { ok: false, error: 'invalid_code_challenge_method' } };
    const code = `${Date.now()}.${randomBytes(16).toString('hex')}`;
    this.codes.set(code, {
      clientId: client.clientId,
      redirectUri: query.get('redirect_uri') ?? undefined,
      challenge,
      scope: query.get('scope') ?? '',
      expiresAt: this.now() + CODE_TTL_MS,
      used: false,
      family: randomBytes(8).toString('hex'),
    });
    const location = new URL(redirectUri);
    location.searchParams.set('code', code);
    const state = query.get('state');
    if (state !== null) location.searchParams.set('state', state);
    return { status: 302, location: location.href };
  }

  /** The `oauth.v2.access` method. `basic` is the HTTP Basic client authentication, when sent. */
  access(args: Record<string, string>, basic: { id: string; secret: string } | undefined): OAuthReply {
    const clientId = basic?.id ?? args.client_id;
    const client = clientId === undefined ? undefined : this.clients.get(clientId);
    if (!client) return fail('invalid_client_id');
    if ((basic?.secret ?? args.client_secret) !== client.clientSecret) return fail('bad_client_secret');
    const grant = args.grant_type ?? 'authorization_code';
    if (grant === 'authorization_code') return this.exchange(client, args);
    if (grant === 'refresh_token') return this.refresh(client, args.refresh_token);
    return fail('invalid_grant_type');
  }

  private exchange(client: SandboxOAuthClient, args: Record<string, string>): OAuthReply {
    const code = args.code === undefined ? undefined : this.codes.get(args.code);
    if (!code || code.clientId !== client.clientId || code.expiresAt <= this.now()) return fail('invalid_code');
    if (code.used) {
      // RFC 6749 §4.1.2: a code used twice revokes what it was exchanged for.
      this.revokeFamily(code.family);
      return fail('code_already_used');
    }
    if (code.redirectUri !== undefined && args.redirect_uri !== code.redirectUri) return fail('bad_redirect_uri');
    if (code.challenge !== undefined) {
      const verifier = args.code_verifier ?? '';
      // Slack documents `code_verifier` but not the name of this error (unverified).
      if (createHash('sha256').update(verifier).digest('base64url') !== code.challenge) return fail('invalid_code_verifier');
    }
    code.used = true;
    return this.issue(client, code.family, code.scope);
  }

  private refresh(client: SandboxOAuthClient, refreshToken: string | undefined): OAuthReply {
    if (!client.rotation) return fail('token_rotation_not_enabled');
    const entry = refreshToken === undefined ? undefined : this.familyOf(refreshToken);
    if (!entry || entry.family.clientId !== client.clientId) return fail('invalid_refresh_token');
    if (entry.family.revoked) return fail('invalid_refresh_token');
    if (entry.retired) {
      this.revokeFamily(entry.id);
      return fail('invalid_refresh_token');
    }
    return this.issue(client, entry.id, '');
  }

  private issue(client: SandboxOAuthClient, familyId: string, scope: string): OAuthReply {
    const body: Record<string, unknown> = {
      ok: true,
      app_id: this.identity.appId,
      authed_user: { id: this.identity.installerUserId },
      scope: scope || 'channels:history,groups:history,chat:write',
      token_type: 'bot',
      bot_user_id: this.identity.botUserId,
      team: { name: this.identity.teamName, id: this.identity.teamId },
      enterprise: null,
      is_enterprise_install: false,
    };
    if (!client.rotation) {
      const accessToken = `xoxb-${this.identity.teamId}-${randomBytes(12).toString('hex')}`;
      this.tokens.add(accessToken, { kind: 'oauth', family: familyId });
      return { status: 200, body: { ...body, access_token: accessToken } };
    }
    const accessToken = `xoxe.xoxb-1-${randomBytes(24).toString('base64url')}`;
    const refreshToken = `xoxe-1-${randomBytes(24).toString('base64url')}`;
    this.tokens.add(accessToken, { kind: 'rotating', family: familyId, expiresAt: this.now() + ROTATING_TOKEN_SECONDS * 1000 });
    const family = this.families.get(familyId);
    if (family) {
      family.retired.add(family.current);
      family.current = refreshToken;
    } else {
      this.families.set(familyId, { clientId: client.clientId, current: refreshToken, retired: new Set(), revoked: false });
    }
    return { status: 200, body: { ...body, access_token: accessToken, refresh_token: refreshToken, expires_in: ROTATING_TOKEN_SECONDS } };
  }

  private familyOf(refreshToken: string): { id: string; family: Family; retired: boolean } | undefined {
    for (const [id, family] of this.families) {
      if (family.current === refreshToken) return { id, family, retired: false };
      if (family.retired.has(refreshToken)) return { id, family, retired: true };
    }
    return undefined;
  }

  private revokeFamily(id: string): void {
    const family = this.families.get(id);
    if (family) family.revoked = true;
    this.tokens.revokeFamily(id);
  }

  private redirectAllowed(client: SandboxOAuthClient, uri: string): boolean {
    try {
      new URL(uri);
    } catch {
      return false;
    }
    return !client.redirectUris || client.redirectUris.length === 0 || client.redirectUris.includes(uri);
  }
}

function fail(error: string): OAuthReply {
  return { status: 200, body: { ok: false, error } };
}
