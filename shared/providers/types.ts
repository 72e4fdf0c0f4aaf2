import type { z } from 'zod';

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
}

export type WebhookVerdict =
  /** Refuse: nothing stored or enqueued. */
  | { kind: 'reject'; status: 400 | 401 | 403; reason: string }
  /** Answer directly (handshake, ping): nothing enqueued. */
  | { kind: 'respond'; status: number; body: string; contentType: string }
  /** Genuine event: dedupe on `deliveryId`, store, enqueue a sync. */
  | { kind: 'accept'; deliveryId: string; event: string };

export interface WebhookScheme<C> {
  /** Headers safe to keep with a stored delivery (never the signature). */
  keptHeaders: readonly string[];
  verify(request: WebhookRequest, secret: string | undefined, config: C, now: Date): WebhookVerdict;
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
  /** Rate-limit signal from any response of this provider. */
  parseRateLimit(status: number, headers: Headers): RateLimitSignal;
}

/** Lookup by key: the core's only way to reach a provider. */
export interface ProviderRegistry {
  get(key: string): ProviderDefinition | undefined;
  keys(): string[];
}
