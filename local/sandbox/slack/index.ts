/**
 * A local stand-in for Slack's Web API, OAuth v2 and Events API sender.
 * Tests, the benchmarks and `npm start` point a Slack integration's base URL
 * at `apiUrl` (`<url>/api`, as `https://slack.com/api`).
 *
 *   const slack = await startSlackSandbox({ tokens: ['xoxb-test'] });
 *   slack.seedMessages('C0SANDBOX1', 250);
 *   // ... pull from slack.apiUrl ...
 *   await slack.close();
 */
import { listenSandbox } from '../http-server';
import { deliverSlackEvent, EventDispatcher, type DeliveryAttempt, type SlackDelivery, type SlackDeliveryResult, type Subscription } from './events';
import { SlackOAuth, type SandboxOAuthClient } from './oauth';
import { createSlackRouter, type RequestLog, type RouterControls } from './router';
import { SlackSandboxState, type NewMessage, type SandboxMessage } from './state';
import { SlackTokens, type TokenInfo } from './tokens';
import { SlackWorkspace, type EventEnvelope, type WorkspaceIdentity } from './workspace';

export type { SandboxMessage, NewMessage } from './state';
export type { SlackDelivery, SlackDeliveryResult, DeliveryAttempt, Subscription } from './events';
export type { SandboxOAuthClient } from './oauth';
export type { EventEnvelope } from './workspace';
export type { RequestLog } from './router';

export interface SlackSandboxOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Bot tokens known from the start. */
  tokens?: string[];
  /** Delay before every response. Default 0. */
  latencyMs?: number;
  /** Behave like an app distributed outside the Marketplace: conversations.history at 1/min, 15 a page. */
  nonMarketplace?: boolean;
  /** Per-minute limits by method over the tier defaults (`{'conversations.history': 1000}`). */
  rateLimits?: Record<string, number>;
  /** First instant of the data clock (message `ts`). Default 2024-01-01T00:00:00Z. */
  clockStart?: string;
  /** Seed of the generated message content. Default 42. */
  seed?: number;
  /** Wall clock for rate-limit windows, token expiry and signing timestamps, epoch ms. Default Date.now. */
  now?: () => number;
}

export interface SlackSandbox {
  /** Origin, e.g. http://127.0.0.1:54321 (no trailing slash). */
  readonly url: string;
  /** Web API base URL to use as the integration's `baseUrl`: `<url>/api`. */
  readonly apiUrl: string;
  readonly identity: Readonly<WorkspaceIdentity>;
  close(): Promise<void>;
  addToken(token: string): void;
  /** The token answers `token_revoked` from now on. */
  revokeToken(token: string): void;
  /** A rotating token's 12 h run out now: it answers `token_expired`. */
  expireToken(token: string): void;
  token(token: string): Readonly<TokenInfo> | undefined;
  registerOAuthClient(client: SandboxOAuthClient): void;
  setLatency(ms: number): void;
  /** The next `n` requests answer `status` with `body` (default Slack's error envelope) before any other check. */
  failNext(n: number, status: number, options?: { headers?: Record<string, string>; body?: string }): void;
  /** A 429 storm: the next `n` requests answer 429 `ratelimited` with `Retry-After: retryAfterSeconds`. */
  rateLimitNext(n: number, retryAfterSeconds: number): void;
  /** The next `n` requests answer HTTP 200 `{"ok": false, "error": code}`. */
  errorNext(n: number, code: string): void;
  createChannel(id: string, name?: string): void;
  /** Whether the bot is in the conversation (`not_in_channel` otherwise). */
  setMembership(channel: string, member: boolean): void;
  seedMessages(channel: string, n: number): SandboxMessage[];
  /** A message from a person (or a thread reply), with its `message` event. */
  postMessage(channel: string, input: NewMessage): SandboxMessage;
  /** Edits a message as a person would, with its `message_changed` event; throws when missing. */
  editMessage(channel: string, ts: string, text: string, by?: string): SandboxMessage;
  /** Deletes a message, with its `message_deleted` event (tombstone for thread parents); throws when missing. */
  deleteMessage(channel: string, ts: string): void;
  getMessage(channel: string, ts: string): SandboxMessage | undefined;
  /** Deliver every later workspace event to `url`, signed with the signing secret, retrying failures. */
  subscribe(subscription: Subscription): void;
  unsubscribe(): void;
  /** Resolves when all queued event deliveries (and their retries) are done. */
  eventsSettled(): Promise<void>;
  deliveries(): readonly DeliveryAttempt[];
  /** Wraps an event in an `event_callback` envelope with a fresh event id. */
  envelope(event: Record<string, unknown> & { type: string }): EventEnvelope;
  /** POST one signed delivery to a URL, as Slack does. */
  deliverEvent(delivery: SlackDelivery): Promise<SlackDeliveryResult>;
  requests(): readonly RequestLog[];
}

const IDENTITY: WorkspaceIdentity = {
  teamId: 'T0SANDBOX',
  teamName: 'Castiel Sandbox',
  appId: 'A0SANDBOX',
  botUserId: 'U0SANDBOXBOT',
  botId: 'B0SANDBOX',
  installerUserId: 'U0SANDBOX1',
  verificationToken: 'sandboxverificationtoken',
};

export async function startSlackSandbox(options: SlackSandboxOptions = {}): Promise<SlackSandbox> {
  let origin = '';
  const now = options.now ?? Date.now;
  const state = new SlackSandboxState(IDENTITY.teamId, options.clockStart ?? '2024-01-01T00:00:00Z', options.seed ?? 42);
  const dispatcher = new EventDispatcher(now);
  const ws = new SlackWorkspace(state, dispatcher, IDENTITY);
  const tokens = new SlackTokens(IDENTITY, now);
  const oauth = new SlackOAuth(tokens, IDENTITY, now);
  for (const t of options.tokens ?? []) tokens.add(t);

  const controls: RouterControls = {
    latencyMs: options.latencyMs ?? 0,
    failures: [],
    nonMarketplace: options.nonMarketplace ?? false,
    limits: { ...options.rateLimits },
    origin: () => origin,
    log: [],
  };
  const handle = createSlackRouter(ws, tokens, oauth, controls);
  const server = await listenSandbox(handle, options);
  origin = server.origin;

  const inject = (n: number, failure: RouterControls['failures'][number]): void => {
    for (let i = 0; i < n; i++) controls.failures.push(failure);
  };
  const mustExist = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`sandbox: no message ${what}`);
    return value;
  };

  return {
    url: origin,
    apiUrl: `${origin}/api`,
    identity: IDENTITY,
    close: () => server.close(),
    addToken: (t) => {
      tokens.add(t);
    },
    revokeToken: (t) => {
      tokens.revoke(t);
    },
    expireToken: (t) => {
      tokens.expire(t);
    },
    token: (t) => tokens.get(t),
    registerOAuthClient: (c) => {
      oauth.registerClient(c);
    },
    setLatency: (ms) => {
      controls.latencyMs = ms;
    },
    failNext: (n, status, o) => {
      const error = status >= 500 ? 'internal_error' : status === 429 ? 'ratelimited' : status === 401 ? 'invalid_auth' : 'invalid_arguments';
      inject(n, { status, headers: o?.headers ?? {}, body: o?.body ?? JSON.stringify({ ok: false, error }) });
    },
    rateLimitNext: (n, seconds) => {
      inject(n, { status: 429, headers: { 'retry-after': String(seconds) }, body: JSON.stringify({ ok: false, error: 'ratelimited' }) });
    },
    errorNext: (n, code) => {
      inject(n, { status: 200, headers: {}, body: JSON.stringify({ ok: false, error: code }) });
    },
    createChannel: (id, name) => {
      state.ensureChannel(id, name);
    },
    setMembership: (channel, member) => {
      state.setMember(channel, member);
    },
    seedMessages: (channel, n) => state.seedMessages(channel, n),
    postMessage: (channel, input) => ws.post(channel, input),
    editMessage: (channel, ts, text, by = IDENTITY.installerUserId) => mustExist(ws.edit(channel, ts, text, by), `${channel}:${ts}`),
    deleteMessage: (channel, ts) => {
      if (!ws.delete(channel, ts)) throw new Error(`sandbox: no message ${channel}:${ts}`);
    },
    getMessage: (channel, ts) => state.get(channel, ts),
    subscribe: (s) => {
      dispatcher.subscription = s;
    },
    unsubscribe: () => {
      dispatcher.subscription = undefined;
    },
    eventsSettled: () => dispatcher.settled(),
    deliveries: () => dispatcher.attempts,
    envelope: (event) => ws.envelope(event),
    deliverEvent: deliverSlackEvent,
    requests: () => controls.log,
  };
}
