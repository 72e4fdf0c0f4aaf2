/**
 * Tokens and rate-limit windows of the Slack sandbox.
 *
 * Token failures answer as Slack does, HTTP 200 with `ok: false`:
 * `not_authed` (none sent), `invalid_auth` (unknown), `token_revoked`,
 * `token_expired` (a rotating token past its 12 h).
 * https://docs.slack.dev/apis/web-api/#errors
 *
 * Rate limits are per token and method per minute, as Slack's tiers are
 * (https://docs.slack.dev/apis/web-api/rate-limits); chat.postMessage is
 * limited per conversation instead. Windows use the wall clock.
 */

export interface TokenIdentity {
  teamId: string;
  botUserId: string;
  botId: string;
  appId: string;
}

export interface TokenInfo extends TokenIdentity {
  kind: 'bot' | 'oauth' | 'rotating';
  revoked: boolean;
  /** Epoch ms; rotating tokens only. */
  expiresAt?: number;
  /** The OAuth grant the token came from: revoking the family revokes every token in it. */
  family?: string;
}

export type TokenCheck = { ok: true; info: TokenInfo } | { ok: false; error: 'invalid_auth' | 'token_revoked' | 'token_expired' };

/** Per-minute limits by method: Tier 3 is "50+ per minute", Tier 4 "100+ per minute". */
export const TIER_LIMITS: Readonly<Record<string, number>> = {
  'conversations.history': 50,
  'chat.update': 50,
  'chat.delete': 50,
  'auth.test': 100,
  'oauth.v2.access': 100,
};
/** chat.postMessage: about one message a second per conversation, short bursts allowed. */
export const POSTS_PER_MINUTE_PER_CHANNEL = 60;
/**
 * Since 2025, apps distributed outside the Marketplace get
 * conversations.history at 1 request a minute and at most 15 messages a page
 * (https://docs.slack.dev/reference/methods/conversations.history).
 */
export const NON_MARKETPLACE_HISTORY_PER_MINUTE = 1;
export const NON_MARKETPLACE_HISTORY_LIMIT = 15;
const WINDOW_MS = 60_000;

export class SlackTokens {
  private readonly tokens = new Map<string, TokenInfo>();
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly identity: TokenIdentity,
    private readonly now: () => number,
  ) {}

  add(token: string, info: Partial<TokenInfo> = {}): TokenInfo {
    const entry: TokenInfo = { ...this.identity, kind: 'bot', revoked: false, ...info };
    this.tokens.set(token, entry);
    return entry;
  }

  get(token: string): TokenInfo | undefined {
    return this.tokens.get(token);
  }

  revoke(token: string): void {
    const info = this.tokens.get(token);
    if (info) info.revoked = true;
  }

  /** Every token of an OAuth grant stops working (refresh-token reuse, code reuse). */
  revokeFamily(family: string): void {
    for (const info of this.tokens.values()) if (info.family === family) info.revoked = true;
  }

  /** Makes a rotating token's 12 h run out now. */
  expire(token: string): void {
    const info = this.tokens.get(token);
    if (info) info.expiresAt = this.now() - 1;
  }

  check(token: string): TokenCheck {
    const info = this.tokens.get(token);
    if (!info) return { ok: false, error: 'invalid_auth' };
    if (info.revoked) return { ok: false, error: 'token_revoked' };
    if (info.expiresAt !== undefined && info.expiresAt <= this.now()) return { ok: false, error: 'token_expired' };
    return { ok: true, info };
  }

  /** Counts one call in `key`'s current minute; says how long to wait when over `limit`. */
  spend(key: string, limit: number): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || now - window.start >= WINDOW_MS) {
      window = { start: now, count: 0 };
      this.windows.set(key, window);
    }
    if (window.count >= limit) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((window.start + WINDOW_MS - now) / 1000)) };
    window.count++;
    return { ok: true };
  }
}
