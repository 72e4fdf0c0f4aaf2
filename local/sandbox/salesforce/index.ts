/**
 * A local stand-in for a Salesforce org: a login server and an instance
 * (My Domain) sharing one org, with OAuth, the REST API, limits, and
 * Outbound Message / signed callout deliveries. Tests, benchmarks and
 * `npm start` point a Salesforce integration's baseUrl at `url`; tokens name
 * `instanceUrl` as the API base, as Salesforce's do.
 *
 *   const sf = await startSalesforceSandbox();
 *   sf.seed('Account', 2500);
 *   const token = sf.issueAccessToken();
 *   // ... pull with {type: 'token', accessToken: token, instanceUrl: sf.instanceUrl} ...
 *   await sf.close();
 */
import { listenSandbox } from '../http-server';
import { salesforceId } from './ids';
import { SandboxOAuth, type ConnectedApp } from './oauth';
import { Locators } from './rest';
import { createSalesforceRouter, type RouterControls } from './router';
import { SalesforceSandboxState, type ObjectDefinition, type SandboxRecord } from './state';
import { deliverCallout, postOutboundMessage, type CalloutDelivery, type CalloutResult, type OutboundResult } from './webhooks';

export type { ConnectedApp } from './oauth';
export type { ObjectDefinition, SandboxRecord } from './state';
export type { CalloutDelivery, CalloutResult, OutboundResult } from './webhooks';

/** A Developer Edition org's daily API allocation. */
export const DEFAULT_API_LIMIT = 15_000;
/** Salesforce's default session timeout. */
const DEFAULT_SESSION_TIMEOUT_MS = 2 * 60 * 60 * 1000;
/** Query locators die after 15 minutes idle; a user keeps at most 10. */
const LOCATOR_IDLE_MS = 15 * 60 * 1000;
const DEFAULT_MAX_LOCATORS = 10;

export interface SalesforceSandboxOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default a fixed 00D… id. */
  organizationId?: string;
  /** Earliest instant of the data clock (CreatedDate, SystemModstamp), which ticks a second per write and keeps up with `now`. */
  clockStart?: string;
  /** Wall clock for sessions, codes, JWT exp, locators and the deleted feed's 15 days. Default Date.now. */
  now?: () => number;
  latencyMs?: number;
  /** Daily API allocation (Sforce-Limit-Info MAX). */
  apiLimit?: number;
  sessionTimeoutMs?: number;
  maxOpenLocators?: number;
  /** Objects the org has; default Account, Contact, Opportunity. */
  objects?: ObjectDefinition[];
  /** The user the authorize endpoint approves as. */
  defaultUser?: string;
}

export interface OutboundDelivery {
  url: string;
  records: { type: string; id: string }[];
  /** Fields to include (default: every field the sandbox holds). */
  fields?: string[];
  /** Reuse ids to mimic Salesforce's retry of the same notifications. */
  notificationIds?: string[];
  actionId?: string;
  sessionId?: string;
  /** Send as another org (a forged or misrouted message). */
  organizationId?: string;
}

export interface SalesforceSandbox {
  /** Login URL: the integration's baseUrl (token and authorize endpoints). */
  readonly url: string;
  /** The org's My Domain: `instance_url` of every token, where the REST API lives. */
  readonly instanceUrl: string;
  readonly organizationId: string;
  close(): Promise<void>;
  addConnectedApp(app: ConnectedApp): void;
  addUser(username: string): void;
  /** A session without refresh token for `username` (default user when omitted). */
  issueAccessToken(username?: string): string;
  /** Ends one session (or all): the next call answers 401 INVALID_SESSION_ID. */
  expireSession(token?: string): void;
  /** Revokes an access token, or a refresh token and its whole family. */
  revokeToken(token: string): boolean;
  setLatency(ms: number): void;
  /** The next `n` requests (any endpoint) answer `status` with Salesforce's error body. */
  failNext(n: number, status: number, options?: { headers?: Record<string, string>; errorCode?: string; message?: string }): void;
  /** The next `n` requests answer 429 with `Retry-After` (a proxy in front of the org throttling). */
  rateLimitStorm(n: number, retryAfterSeconds: number): void;
  setApiUsage(used: number, max?: number): void;
  apiUsage(): { used: number; max: number };
  expireQueryLocators(): void;
  defineObject(definition: ObjectDefinition): void;
  seed(type: string, n: number): SandboxRecord[];
  create(type: string, values: Record<string, unknown>): SandboxRecord;
  update(type: string, id: string, values: Record<string, unknown>): SandboxRecord;
  /** Soft delete (recycle bin): queryAll returns it with IsDeleted true; the deleted feed lists it. */
  remove(type: string, id: string): void;
  /** Empties the recycle bin for one record: queryAll no longer sees it. */
  purge(type: string, id: string): void;
  /** Drops delete-log entries before `ms`: a deleted-feed window starting earlier fails INVALID_REPLICATION_DATE. */
  purgeDeleteLog(ms: number): void;
  get(type: string, id: string): SandboxRecord | undefined;
  /** The data clock (epoch ms): the latest write's SystemModstamp. With a frozen `now`, it runs ahead a second per write. */
  dataTime(): number;
  deliverOutboundMessage(delivery: OutboundDelivery): Promise<OutboundResult>;
  deliverCallout(delivery: CalloutDelivery): Promise<CalloutResult>;
  requests(): readonly { server: 'login' | 'instance'; method: string; path: string; status: number }[];
}

export async function startSalesforceSandbox(options: SalesforceSandboxOptions = {}): Promise<SalesforceSandbox> {
  const now = options.now ?? Date.now;
  const organizationId = options.organizationId ?? salesforceId('00D', 424_242);
  const origins = { login: '', instance: '' };
  const state = new SalesforceSandboxState(organizationId, options.clockStart ?? '2024-01-01T00:00:00Z', now, options.objects);
  const oauth = new SandboxOAuth(organizationId, { login: () => origins.login, instance: () => origins.instance }, now, options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS);
  const locators = new Locators(now, options.maxOpenLocators ?? DEFAULT_MAX_LOCATORS, LOCATOR_IDLE_MS);
  const controls: RouterControls = {
    latencyMs: options.latencyMs ?? 0,
    failures: [],
    usage: { used: 0, max: options.apiLimit ?? DEFAULT_API_LIMIT },
    defaultUser: options.defaultUser ?? 'integration@castiel.example',
    log: [],
  };
  oauth.addUser(controls.defaultUser);
  const deps = { state, oauth, locators, controls, now, origin: (s: 'login' | 'instance') => origins[s] };
  const login = await listenSandbox(createSalesforceRouter('login', deps), { host: options.host });
  const instance = await listenSandbox(createSalesforceRouter('instance', deps), { host: options.host });
  origins.login = login.origin;
  origins.instance = instance.origin;
  let notificationSeq = 1;

  const schemaOf = (type: string) => {
    const schema = state.schema(type);
    if (!schema) throw new Error(`sandbox: no sObject ${type}`);
    return schema;
  };
  const recordOf = (type: string, id: string): SandboxRecord => {
    const record = state.find(schemaOf(type), id);
    if (!record) throw new Error(`sandbox: no ${type} ${id}`);
    return record;
  };
  const errorBody = (errorCode: string, message: string): string => JSON.stringify([{ message, errorCode }]);

  return {
    url: login.origin,
    instanceUrl: instance.origin,
    organizationId,
    close: async () => {
      await Promise.all([login.close(), instance.close()]);
    },
    addConnectedApp: (app) => {
      oauth.addApp(app);
    },
    addUser: (username) => {
      oauth.addUser(username);
    },
    issueAccessToken: (username) => oauth.issueAccessToken(username ?? controls.defaultUser),
    expireSession: (token) => {
      oauth.expire(token);
    },
    revokeToken: (token) => oauth.revoke(token),
    setLatency: (ms) => {
      controls.latencyMs = ms;
    },
    failNext: (n, status, o) => {
      const code = o?.errorCode ?? (status >= 500 ? 'SERVER_UNAVAILABLE' : 'UNKNOWN_EXCEPTION');
      const body = errorBody(code, o?.message ?? (status === 503 ? 'Server unavailable' : 'An unexpected error occurred'));
      for (let i = 0; i < n; i++) controls.failures.push({ status, headers: { 'content-type': 'application/json;charset=UTF-8', ...o?.headers }, body });
    },
    rateLimitStorm: (n, retryAfterSeconds) => {
      const body = errorBody('REQUEST_LIMIT_EXCEEDED', 'Too Many Requests');
      for (let i = 0; i < n; i++) {
        controls.failures.push({ status: 429, headers: { 'content-type': 'application/json;charset=UTF-8', 'retry-after': String(retryAfterSeconds) }, body });
      }
    },
    setApiUsage: (used, max) => {
      controls.usage.used = used;
      if (max !== undefined) controls.usage.max = max;
    },
    apiUsage: () => ({ ...controls.usage }),
    expireQueryLocators: () => {
      locators.expireAll();
    },
    defineObject: (definition) => {
      state.defineObject(definition);
    },
    seed: (type, n) => state.seed(schemaOf(type), n),
    create: (type, values) => {
      const schema = schemaOf(type);
      const check = state.checkWrite(schema, values, true);
      if (!check.ok) throw new Error(`sandbox: ${check.code} ${check.message}`);
      return state.create(schema, check.values);
    },
    update: (type, id, values) => {
      const record = recordOf(type, id);
      const check = state.checkWrite(schemaOf(type), values, false);
      if (!check.ok) throw new Error(`sandbox: ${check.code} ${check.message}`);
      return state.update(record, check.values);
    },
    remove: (type, id) => {
      state.remove(recordOf(type, id));
    },
    purge: (type, id) => {
      if (!state.purge(schemaOf(type), id)) throw new Error(`sandbox: ${type} ${id} is not in the recycle bin`);
    },
    purgeDeleteLog: (ms) => {
      state.purgeDeleteLog(ms);
    },
    get: (type, id) => {
      const record = state.find(schemaOf(type), id);
      return record && structuredClone(record);
    },
    dataTime: () => state.time,
    deliverOutboundMessage: (d) => {
      const notifications = d.records.map((ref, i) => {
        const record = recordOf(ref.type, ref.id);
        const all: Record<string, unknown> = { Id: record.Id, ...record.values, SystemModstamp: record.SystemModstamp };
        const fields = d.fields ? Object.fromEntries(d.fields.map((f) => [f, all[f] ?? null])) : all;
        return { id: d.notificationIds?.[i] ?? salesforceId('04l', notificationSeq++), type: record.type, fields: { Id: record.Id, ...fields } };
      });
      const input = { organizationId: d.organizationId ?? organizationId, actionId: d.actionId ?? salesforceId('04k', 1), notifications, instanceUrl: instance.origin };
      return postOutboundMessage(d.url, d.sessionId === undefined ? input : { ...input, sessionId: d.sessionId });
    },
    deliverCallout,
    requests: () => controls.log,
  };
}
