import type { JsonWebKey } from 'node:crypto';
import type { z } from 'zod';
import type { EgressPolicy } from '../http/egress-policy';

/** A record as every provider yields it, before the sync pipeline touches it. */
export interface NormalizedRecord {
  externalId: string;
  entityType: string;
  /** Provider's last-modified time, ISO 8601. */
  updatedAt: string;
  deleted: boolean;
  data: Record<string, unknown>;
}

/** Opaque, JSON-serialisable provider cursor. */
export type Cursor = Record<string, unknown>;

export interface PullPage {
  records: NormalizedRecord[];
  /** Cursor to store once this page is persisted; resuming from it continues after this page. */
  cursor: Cursor;
  /** True on the last page of the run. */
  done: boolean;
}

/** What a provider learns from a response about its rate limits. */
export interface RateLimitSignal {
  remaining?: number;
  limit?: number;
  /** Epoch ms when the window resets. */
  resetAt?: number;
  retryAfterMs?: number;
}

export interface PullContext<C, K> {
  baseUrl: string;
  config: C;
  credentials: K;
  /** Stored cursor; undefined on a first (full) sync. */
  cursor: Cursor | undefined;
  fetch: typeof fetch;
  /** Called with every response's rate-limit signal. */
  onRateLimit?: (signal: RateLimitSignal) => void;
  signal?: AbortSignal;
}

/** A webhook request as the verifier sees it: raw bytes and case-insensitive headers. */
export interface WebhookRequest {
  rawBody: Buffer;
  header(name: string): string | undefined;
  /** The public URL the request was sent to (Google Pub/Sub's default OIDC audience). */
  url: string;
}

/** An HTTP answer a scheme chooses (handshake, ping, SOAP ack). */
export interface WebhookReply {
  status: number;
  body: string;
  contentType: string;
}

/** One provider event inside a delivery: deduped on (integration, deliveryId). */
export interface WebhookEvent {
  deliveryId: string;
  event: string;
}

/**
 * A JSON Web Key set source (Google's OIDC keys); injectable so tests sign
 * with their own key. `refresh` asks for a fresh copy after an unknown `kid`
 * (the source rate-limits it).
 */
export type JwksSource = (jwksUri: string, options?: { refresh?: boolean }) => Promise<readonly JsonWebKey[]>;

export interface WebhookContext<C> {
  config: C;
  /**
   * The integration's webhook secrets, newest first. During a rotation's
   * overlap window both the new and the previous secret verify. Empty when
   * none is set: schemes that need one must fail closed.
   */
  secrets: readonly string[];
  now: Date;
  jwks: JwksSource;
  /**
   * The URL this integration's deliveries are addressed to, from the
   * configured public base URL (PUBLIC_BASE_URL) — never from the request's
   * Host header. Undefined when no public URL is configured.
   */
  publicUrl?: string | undefined;
}

export type WebhookVerdict =
  /** Refuse: nothing stored or enqueued. */
  | { kind: 'reject'; status: 400 | 401 | 403; reason: string }
  /** Answer directly (handshake, ping): nothing stored or enqueued. */
  | { kind: 'respond'; reply: WebhookReply }
  /**
   * Genuine events (one, or a batch like Salesforce's up to 100
   * notifications): each is deduped and stored; one sync is enqueued when any
   * is new. `reply` overrides the default 202 JSON answer (e.g. SOAP `<Ack>`).
   */
  | {
      kind: 'accept';
      events: WebhookEvent[];
      reply?: WebhookReply;
      /**
       * The scheme cannot prove who sent it (Salesforce Outbound Messages carry
       * no signature): what such deliveries may make us store is bounded and
       * rate-limited per integration (webhooks/unverified.ts).
       */
      unverified?: true;
    }
  /**
   * A one-time handshake that hands us the secret (Notion's
   * `verification_token`): store it as the integration's webhook secret,
   * then answer `reply`. Honoured only while an admin has armed the
   * integration's handshake (webhooks/handshake.ts).
   */
  | { kind: 'store-secret'; secret: string; reply: WebhookReply };

export interface WebhookScheme<C> {
  /** Headers safe to keep with a stored delivery (never a signature or token). */
  keptHeaders: readonly string[];
  /** The scheme hands over its secret in a handshake (`store-secret` verdicts): an admin arms it first. */
  handshake?: true;
  verify(request: WebhookRequest, ctx: WebhookContext<C>): WebhookVerdict | Promise<WebhookVerdict>;
  /**
   * Records an accepted delivery carries that a pull cannot see (Slack's
   * `message_changed` / `message_deleted`: history lists creations only).
   * They go through the same pipeline as pulled pages.
   */
  records?(rawBody: Buffer, config: C, events: readonly WebhookEvent[]): NormalizedRecord[];
}

/** Context for calls a provider makes with an integration's credentials. */
export interface CallContext<C, K> {
  baseUrl: string;
  config: C;
  credentials: K;
  fetch: typeof fetch;
  onRateLimit?: (signal: RateLimitSignal) => void;
  signal?: AbortSignal;
}

export type PushOp = 'create' | 'update' | 'delete';

export interface PushOperation {
  op: PushOp;
  entityType: string;
  /** The provider's id; absent for a create. */
  externalId?: string;
  /**
   * What to write, in the shape the pull produces (the provider's field
   * names). The outbound worker sends a patch: only the fields the local
   * change touched; a provider writes those and nothing else.
   */
  payload: Record<string, unknown>;
  /** Sent to providers that support idempotency keys; otherwise used to find a previous create. */
  idempotencyKey: string;
  /**
   * The provider's version of the record as we last saw it (from a pull or
   * our own last write). When given, an update or delete is conditional on
   * it: the provider's conditional write where it has one, else a re-read
   * just before writing; a provider that moved on since throws
   * PushConflictError (providers/push-conflict.ts) instead of overwriting.
   */
  seen?: PushSeen;
}

export interface PushSeen {
  /** The provider's last-modified time of the version we saw (ISO). */
  updatedAt: string;
  /** That version's data in the pull's shape (only what we know of it: the mapped fields of a mapped record). */
  data: Record<string, unknown>;
}

export interface PushResult {
  externalId: string;
  /** Provider version or updated timestamp after the write, when it returns one. */
  version?: string;
  updatedAt?: string;
  /**
   * The provider's record after the write, in the pull's shape, when the
   * answer carries it: stored as the record's data, so the next conditional
   * write compares against what the provider holds, not what we sent.
   */
  record?: NormalizedRecord;
  /** Nothing was written: the provider already held these values. */
  unchanged?: true;
}

export interface PushSupport<C, K> {
  entityTypes: readonly string[];
  /** The entity types an integration's config makes writable (Salesforce: its objects), over `entityTypes`. */
  entityTypesFor?(config: C): readonly string[];
  /**
   * Whether a top-level field of the pull's shape can be written. The admin
   * API refuses an edit of any other field with a 400 naming it, instead of
   * queueing a push the provider would ignore. Absent: every field is.
   */
  writable?(entityType: string, field: string, op: PushOp): boolean;
  /**
   * Updates and deletes honour `seen` (a conditional write or a re-read just
   * before writing), so a push needs no pull first to avoid overwriting a
   * provider change; without it the worker waits for a pull after the local change.
   */
  conditional?: true;
  apply(ctx: CallContext<C, K>, operation: PushOperation): Promise<PushResult>;
}

/** OAuth client settings an admin registers per provider (or per integration). */
export interface OAuthClient {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  scopes?: readonly string[];
}

export interface OAuthSupport<C, K> {
  /** Where to send the admin's browser (authorization-code flow with PKCE S256). */
  authorizeUrl(baseUrl: string, config: C, client: OAuthClient, params: { state: string; codeChallenge: string }): string;
  /** Exchange the code for credentials (in this provider's credential shape). */
  exchangeCode(ctx: { baseUrl: string; config: C; fetch: typeof fetch }, client: OAuthClient, params: { code: string; codeVerifier: string }): Promise<K>;
}

export interface AuthSupport<C, K> {
  /** When the access token expires (epoch ms), if known. */
  expiresAt(credentials: K): number | undefined;
  /**
   * Refresh (or re-mint, for JWT bearer grants) the access token. Returns
   * new credentials; a rotated refresh token is in them, and a response
   * without one keeps the old. Throws AuthError on invalid_grant.
   */
  refresh?(ctx: { baseUrl: string; config: C; fetch: typeof fetch }, credentials: K): Promise<K>;
  oauth?: OAuthSupport<C, K>;
}

/**
 * Where a provider's calls may go (DESIGN.md, "Outbound calls go only where
 * the provider lives"). Every fetch a provider is handed is held to these
 * hosts (shared/http/egress*.ts); a provider that declares none reaches
 * nothing outside the local sandbox setting.
 */
export interface EgressDeclaration<C, K> {
  /** The documented API and token hosts: exact names, or `*.example.com` for any name under it (not the apex). */
  hosts: readonly string[];
  /** Hosts an admin added explicitly in the integration's config (GitHub Enterprise): exact names only. */
  configHosts?(config: C): readonly string[];
  /** Other URLs the config names that calls go to (an OAuth host, a token endpoint), by field: checked like baseUrl. */
  configUrls?(config: C): Readonly<Record<string, string | undefined>>;
  /**
   * URLs the credentials name that calls go to, by field (Salesforce's
   * `instanceUrl`): checked on integration PUT and whenever a grant mints
   * new credentials, so an off-list one is never stored nor sent a token.
   */
  credentialUrls?(credentials: K): Readonly<Record<string, string | undefined>>;
}

/**
 * Everything the core knows about a provider. The core looks providers up by
 * key in the registry and never switches on a provider name.
 */
export interface ProviderDefinition<C = unknown, K = unknown> {
  key: string;
  displayName: string;
  defaultBaseUrl: string;
  configSchema: z.ZodType<C>;
  credentialsSchema: z.ZodType<K>;
  webhook?: WebhookScheme<C>;
  /** Incremental pull, page by page, resumable from `ctx.cursor`. */
  pull(ctx: PullContext<C, K>): AsyncGenerator<PullPage>;
  /** Create / update / delete at the provider. */
  push?: PushSupport<C, K>;
  /** Token lifetimes, refresh and the OAuth connect flow. */
  auth?: AuthSupport<C, K>;
  /** Rate-limit signal from any response of this provider. */
  parseRateLimit(status: number, headers: Headers): RateLimitSignal;
  /** The hosts its calls may reach. */
  egress?: EgressDeclaration<C, K>;
}

/** Lookup by key: the core's only way to reach a provider. */
export interface ProviderRegistry {
  get(key: string): ProviderDefinition | undefined;
  keys(): string[];
  /** The egress policy its providers are held to, when the composition root guarded them (shared/http/egress-providers.ts). */
  egress?: EgressPolicy;
}
