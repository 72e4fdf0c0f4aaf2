/**
 * A local stand-in for Google's Drive v3 and Calendar v3 APIs, its OAuth
 * endpoints and its push senders. Tests, the benchmarks and `npm start`
 * point a Google integration's base URL here; the token endpoint is then
 * `<url>/token` (shared/providers/google/auth.ts derives it).
 *
 *   const g = await startGoogleSandbox();
 *   g.addAccessToken('ya29.test');
 *   g.seedFiles(250); g.seedEvents('primary', 40);
 *   // ... pull from g.url ...
 *   await g.close();
 */
import { listenSandbox } from '../http-server';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { AuthState } from './auth-state';
import { CalendarState, type SandboxEvent } from './calendar-state';
import { Channels } from './channels';
import { DriveState, type FilePatch, type SandboxFile } from './drive-state';
import { DataClock, googleError, type HeaderMap } from './http';
import { createGoogleRouter, rateLimitedReply, type RouterControls } from './router';
import { PubsubSigner, sendChannelNotification, type ChannelNotification, type DeliveryResult, type PubsubDelivery } from './webhooks';

export type { SandboxFile, FilePatch } from './drive-state';
export type { SandboxEvent } from './calendar-state';
export type { PubsubDelivery, ChannelNotification, DeliveryResult } from './webhooks';

export const ALL_SCOPES = ['https://www.googleapis.com/auth/drive.metadata.readonly', 'https://www.googleapis.com/auth/calendar.events'];

export interface GoogleSandboxOptions {
  host?: string;
  port?: number;
  latencyMs?: number;
  /** First instant of the data clock. Default 2024-01-01T00:00:00Z. */
  clockStart?: string;
  /** Wall clock for token expiry and rate-limit windows, epoch ms. Default Date.now. */
  now?: () => number;
  /** Seeds file and event ids: the same seed gives the same data. Default `castiel`. */
  seed?: string;
  /** The consenting user / calendar owner. */
  user?: string;
  rateLimitStatus?: 403 | 429;
  /** Requests per token per window (default window: 100 s, Drive's quota unit). */
  userRateLimit?: { limit: number; windowMs?: number };
  /** Largest page the sandbox answers, below Google's own caps. */
  maxPageSize?: number;
  /** Rotate refresh tokens (Google does not; on, reuse revokes the family). */
  rotateRefreshTokens?: boolean;
}

export interface GoogleSandbox {
  readonly url: string;
  close(): Promise<void>;
  addClient(clientId: string, client: { secret: string; redirectUris: string[] }): void;
  /** A ready access token (default scopes: Drive metadata read, Calendar events). */
  addAccessToken(token: string, options?: { scopes?: string[]; expiresInMs?: number }): void;
  addServiceAccount(email: string, key: { publicKeyPem: string; keyId?: string; domainWideDelegation?: boolean }): void;
  revokeToken(token: string): boolean;
  expireAccessToken(token: string): boolean;
  setRotateRefreshTokens(on: boolean): void;
  setLatency(ms: number): void;
  setMaxPageSize(n: number): void;
  setRateLimit(limit: number | undefined, options?: { windowMs?: number; status?: 403 | 429 }): void;
  /** The next `n` API requests answer `status` with Google's error body. */
  failNext(n: number, status: number, options?: { reason?: string; message?: string; headers?: HeaderMap }): void;
  /** The next `n` API requests are rate limited (403 userRateLimitExceeded or 429 rateLimitExceeded). */
  rateLimitStorm(n: number, status?: 403 | 429, headers?: HeaderMap): void;
  seedFiles(n: number): SandboxFile[];
  createFile(input: { name: string; mimeType?: string; content?: string }): SandboxFile;
  updateFile(id: string, patch: FilePatch): SandboxFile;
  deleteFile(id: string): void;
  getFile(id: string): SandboxFile | undefined;
  createCalendar(calendarId: string): void;
  seedEvents(calendarId: string, n: number): SandboxEvent[];
  getEvent(calendarId: string, eventId: string): SandboxEvent | undefined;
  updateEvent(calendarId: string, eventId: string, fields: Partial<SandboxEvent>): SandboxEvent;
  deleteEvent(calendarId: string, eventId: string): void;
  /** Every sync and page token of the calendar answers 410 from now on. */
  expireSyncTokens(calendarId: string): void;
  /** The sandbox's Pub/Sub signing keys (what Google serves at /oauth2/v3/certs). */
  jwks(): JsonWebKey[];
  deliverPubsub(delivery: PubsubDelivery): Promise<DeliveryResult>;
  deliverChannelNotification(notification: ChannelNotification): Promise<DeliveryResult>;
  /** Waits for watch-channel notifications in flight; returns all sent so far. */
  flushNotifications(): Promise<readonly (DeliveryResult & { channelId: string; state: string })[]>;
  requests(): readonly { method: string; path: string; status: number }[];
}

export async function startGoogleSandbox(options: GoogleSandboxOptions = {}): Promise<GoogleSandbox> {
  let origin = '';
  const now = options.now ?? Date.now;
  const seed = options.seed ?? 'castiel';
  const user = options.user ?? 'ada@example.com';
  const clock = new DataClock(options.clockStart ?? '2024-01-01T00:00:00Z');
  const channels = new Channels(now);
  const auth = new AuthState(now, user);
  auth.rotateRefreshTokens = options.rotateRefreshTokens ?? false;
  const owner = { kind: 'drive#user' as const, displayName: user.split('@')[0] || user, emailAddress: user, me: true, permissionId: '07024573812373853251' };
  const drive = new DriveState(clock, seed, owner, () => {
    channels.notify('drive');
  });
  const calendar = new CalendarState(clock, seed, user, (id) => {
    channels.notify('calendar', id);
  });
  calendar.ensure('primary');
  const signer = new PubsubSigner();

  const controls: RouterControls = {
    latencyMs: options.latencyMs ?? 0,
    rateLimitStatus: options.rateLimitStatus ?? 403,
    userRateLimit: options.userRateLimit?.limit,
    // Drive's per-user quota is counted per 100 seconds (https://developers.google.com/drive/api/guides/limits).
    rateLimitWindowMs: options.userRateLimit?.windowMs ?? 100_000,
    maxPageSize: options.maxPageSize ?? Number.MAX_SAFE_INTEGER,
    failures: [],
    origin: () => origin,
    log: [],
  };
  const handle = createGoogleRouter({ auth, drive, calendar, channels, signer }, controls);
  const server = await listenSandbox(handle, options);
  origin = server.origin;

  const must = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`sandbox: no ${what}`);
    return value;
  };

  return {
    url: origin,
    close: async () => {
      await channels.flush();
      await server.close();
    },
    addClient: (id, c) => {
      auth.clients.set(id, { secret: c.secret, redirectUris: [...c.redirectUris] });
    },
    addAccessToken: (token, o) => {
      auth.addAccessToken(token, { scopes: o?.scopes ?? ALL_SCOPES, ...(o?.expiresInMs === undefined ? {} : { expiresInMs: o.expiresInMs }) });
    },
    addServiceAccount: (email, key) => {
      auth.serviceAccounts.set(email, {
        publicKey: createPublicKey(key.publicKeyPem),
        domainWideDelegation: key.domainWideDelegation ?? false,
        ...(key.keyId === undefined ? {} : { keyId: key.keyId }),
      });
    },
    revokeToken: (token) => auth.revoke(token),
    expireAccessToken: (token) => auth.expireAccessToken(token),
    setRotateRefreshTokens: (on) => {
      auth.rotateRefreshTokens = on;
    },
    setLatency: (ms) => {
      controls.latencyMs = ms;
    },
    setMaxPageSize: (n) => {
      controls.maxPageSize = n;
    },
    setRateLimit: (limit, o) => {
      controls.userRateLimit = limit;
      if (o?.windowMs !== undefined) controls.rateLimitWindowMs = o.windowMs;
      if (o?.status !== undefined) controls.rateLimitStatus = o.status;
    },
    failNext: (n, status, o) => {
      const reason = o?.reason ?? defaultReason(status);
      for (let i = 0; i < n; i++) {
        const reply = googleError(status, reason, o?.message ?? defaultMessage(status));
        if (o?.headers) reply.headers = o.headers;
        controls.failures.push(reply);
      }
    },
    rateLimitStorm: (n, status, headers) => {
      for (let i = 0; i < n; i++) {
        const reply = rateLimitedReply(status ?? controls.rateLimitStatus);
        if (headers) reply.headers = headers;
        controls.failures.push(reply);
      }
    },
    seedFiles: (n) => drive.seedFiles(n),
    createFile: (input) => drive.createFile(input),
    updateFile: (id, patch) => must(drive.updateFile(id, patch), `file ${id}`),
    deleteFile: (id) => {
      if (!drive.deleteFile(id)) throw new Error(`sandbox: no file ${id}`);
    },
    getFile: (id) => drive.getFile(id),
    createCalendar: (id) => {
      calendar.ensure(id);
    },
    seedEvents: (id, n) => calendar.seedEvents(id, n),
    getEvent: (cid, eid) => calendar.get(cid, eid),
    updateEvent: (cid, eid, fields) => must(calendar.write(cid, eid, fields, false), `event ${eid}`),
    deleteEvent: (cid, eid) => {
      if (calendar.cancel(cid, eid) !== 'ok') throw new Error(`sandbox: no live event ${eid}`);
    },
    expireSyncTokens: (id) => {
      calendar.expireSyncTokens(id);
    },
    jwks: () => signer.jwks(),
    deliverPubsub: (d) => signer.deliver(d),
    deliverChannelNotification: (n) => sendChannelNotification(n),
    flushNotifications: async () => {
      await channels.flush();
      return channels.sent;
    },
    requests: () => controls.log,
  };
}

function defaultReason(status: number): string {
  if (status === 401) return 'authError';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'notFound';
  if (status === 429) return 'rateLimitExceeded';
  return status === 503 ? 'backendError' : status >= 500 ? 'internalError' : 'badRequest';
}

function defaultMessage(status: number): string {
  if (status === 503) return 'Service Unavailable';
  if (status >= 500) return 'Internal Error';
  if (status === 429) return 'Rate Limit Exceeded';
  return status === 403 ? 'The user does not have sufficient permissions for this file.' : 'Bad Request';
}
