/**
 * Entra ID authentication for Azure Managed Redis.
 *
 * Azure Managed Redis takes a Microsoft Entra access token (scope https://redis.azure.com/.default) as the
 * AUTH password, with the identity's object id as the username. Tokens expire, and "after a connection is
 * established by using a Microsoft Entra token, client applications must periodically refresh the token
 * before expiry, then send an AUTH command to the Redis server to avoid disrupting connections"
 * (https://learn.microsoft.com/azure/redis/entra-for-authentication). ioredis knows nothing of tokens, so
 * RedisTokenAuth owns them: one token per process, renewed before it expires and sent as `AUTH <user> <token>`
 * on every open connection it serves (the AUTH queues behind in-flight commands on the same socket, so none
 * is dropped), and handed to every connect and reconnect through TokenAuthRedis below.
 *
 * Never log or throw a token: every message here names what failed, not the credential.
 */
import type { AccessToken, TokenCredential } from '@azure/identity';
import Redis, { type Callback, type RedisOptions } from 'ioredis';
import { z } from 'zod';

export const REDIS_TOKEN_SCOPE = 'https://redis.azure.com/.default';

export interface RedisCredentials {
  username: string;
  password: string;
}

interface CurrentToken extends RedisCredentials {
  expiresAt: number;
  renewAt: number;
}

/** What renewal needs from a client (ioredis's Redis). */
export type TokenAuthClient = Pick<Redis, 'status' | 'options' | 'auth'>;

export interface RedisTokenAuthOptions {
  /** Where tokens come from: ManagedIdentityCredential({ clientId }) in Azure, a fake in tests. */
  credential: TokenCredential;
  /** The Redis username: the identity's object id. Unset: the token's `oid` claim. */
  username?: string;
  scope?: string;
  /** Renew this long before the token expires (default 5 minutes), or at its refreshAfter when sooner. */
  renewBeforeMs?: number;
  /** After a failed renewal, try again this much later (default 10 s). */
  retryMs?: number;
  /** Renewal and re-AUTH failures; commands keep failing on their own if the connection is lost. */
  onError?: (error: Error) => void;
  now?: () => number;
}

// A JWT's payload, as far as we read it: only the object id, to name the Redis user.
const jwtClaims = z.object({ oid: z.string().min(1) });

/** The `oid` claim of a JWT access token, unverified (it is our own token, used only to pick the username). */
export function objectIdOf(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const parsed = jwtClaims.safeParse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown);
    return parsed.success ? parsed.data.oid : undefined;
  } catch {
    return undefined;
  }
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class RedisTokenAuth {
  private current: CurrentToken | undefined;
  private fetching: Promise<CurrentToken> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly clients = new Set<TokenAuthClient>();
  private readonly now: () => number;
  private onError: ((error: Error) => void) | undefined;

  constructor(private readonly options: RedisTokenAuthOptions) {
    this.now = options.now ?? Date.now;
    this.onError = options.onError;
  }

  /** Report failures to `listener` when no listener was given yet (the logger exists after the first client). */
  listen(listener: (error: Error) => void): void {
    this.onError ??= listener;
  }

  /** For a (re)connect: the current credentials, renewed first when due. */
  async credentials(): Promise<RedisCredentials> {
    const t = this.current;
    if (t !== undefined && this.now() < t.renewAt) return t;
    return this.fetch();
  }

  /** The last credentials obtained, even if expired. */
  lastKnown(): RedisCredentials | undefined {
    return this.current;
  }

  /** Serve `client`: renewals re-AUTH it while it is connected. The first client starts the first token fetch. */
  attach(client: TokenAuthClient): void {
    this.clients.add(client);
    if (this.current === undefined) {
      // Overlap the token request (IMDS) with the rest of start-up; the first connect awaits the same fetch.
      this.fetch().catch((e: unknown) => {
        this.report(describe(e));
      });
    }
    this.schedule();
  }

  detach(client: TokenAuthClient): void {
    this.clients.delete(client);
    if (this.clients.size === 0) this.stopTimer();
  }

  /** Get a new token now and AUTH every connected client with it; resolves once each AUTH is answered. */
  async renew(): Promise<void> {
    const token = await this.fetch();
    await Promise.all([...this.clients].map((c) => this.reauthenticate(c, token)));
  }

  /** Send the current credentials on `client`'s connection (the next connect takes them from its options). */
  async reauthenticate(client: TokenAuthClient, creds: RedisCredentials | undefined = this.current): Promise<void> {
    if (creds === undefined) return;
    client.options.username = creds.username;
    client.options.password = creds.password;
    if (client.status !== 'ready') return;
    try {
      await client.auth(creds.username, creds.password);
    } catch (e) {
      this.report(`Redis AUTH with a renewed Entra token failed: ${describe(e)}`);
    }
  }

  /** Stop renewing (the clients are closed or about to be). */
  close(): void {
    this.clients.clear();
    this.stopTimer();
  }

  private fetch(): Promise<CurrentToken> {
    this.fetching ??= this.getToken().finally(() => {
      this.fetching = undefined;
    });
    return this.fetching;
  }

  private async getToken(): Promise<CurrentToken> {
    let token: AccessToken | null;
    try {
      token = await this.options.credential.getToken(this.options.scope ?? REDIS_TOKEN_SCOPE);
    } catch (e) {
      throw new Error(`could not get an Entra token for Redis: ${describe(e)}`);
    }
    if (!token) throw new Error('could not get an Entra token for Redis: the credential returned none');
    const username = this.options.username ?? objectIdOf(token.token);
    if (username === undefined) throw new Error('the Entra token for Redis has no oid claim: set REDIS_ENTRA_USERNAME to the identity object id');
    const now = this.now();
    const expiresAt = token.expiresOnTimestamp;
    let renewAt = Math.min(token.refreshAfterTimestamp ?? Number.POSITIVE_INFINITY, expiresAt - (this.options.renewBeforeMs ?? 5 * 60_000));
    // A lifetime shorter than the margin: renew at half-life, and never spin on a token that is already due.
    if (renewAt <= now) renewAt = now + Math.max((expiresAt - now) / 2, 1_000);
    this.current = { username, password: token.token, expiresAt, renewAt };
    this.schedule();
    return this.current;
  }

  private schedule(): void {
    this.stopTimer();
    const t = this.current;
    if (t === undefined || this.clients.size === 0) return;
    this.arm(Math.max(0, t.renewAt - this.now()));
  }

  private arm(delayMs: number): void {
    this.stopTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.renew().catch((e: unknown) => {
        this.report(describe(e));
        // Keep trying until it works; the old token stays in use until it expires.
        if (this.clients.size > 0) this.arm(this.options.retryMs ?? 10_000);
      });
    }, delayMs);
    // Renewal must not keep a finished process (a test, a CLI) alive.
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private report(message: string): void {
    this.onError?.(new Error(message));
  }
}

/**
 * An ioredis client that authenticates every connection with the current token. ioredis calls connect()
 * for the first connection and again for each reconnect, so fetching the credentials there gives every new
 * connection a current token.
 */
class TokenAuthRedis extends Redis {
  constructor(
    url: string,
    options: RedisOptions,
    private readonly tokenAuth: RedisTokenAuth,
  ) {
    // Lazy: the token is fetched by the first connect, never while the module or the client is built.
    super(url, { ...options, lazyConnect: true });
    tokenAuth.attach(this);
    this.on('end', () => {
      tokenAuth.detach(this);
    });
  }

  override connect(callback?: Callback<void>): Promise<void> {
    const connected = this.connectWithToken();
    if (callback) {
      connected.then(
        () => {
          callback(null);
        },
        (e: unknown) => {
          callback(e instanceof Error ? e : new Error(describe(e)));
        },
      );
    }
    return connected;
  }

  private async connectWithToken(): Promise<void> {
    const reconnecting = this.status === 'reconnecting';
    let creds: RedisCredentials;
    try {
      creds = await this.tokenAuth.credentials();
    } catch (e) {
      const stale = this.tokenAuth.lastKnown();
      // ioredis schedules its next retry only when a connection closes: on a reconnect, go on with the old
      // token, so that a refused AUTH closes the connection and the retry loop continues.
      if (!reconnecting || stale === undefined) throw e;
      creds = stale;
    }
    if (this.status === 'end') throw new Error('Connection is closed.');
    // Served again if it was closed and is now reconnected by hand.
    this.tokenAuth.attach(this);
    this.options.username = creds.username;
    this.options.password = creds.password;
    await super.connect();
    // Renewed while this connection was being set up: bring it up to date at once.
    const latest = this.tokenAuth.lastKnown();
    if (latest !== undefined && latest.password !== creds.password) await this.tokenAuth.reauthenticate(this, latest);
  }
}

/** A plain ioredis client, or one that authenticates with Entra tokens when `tokenAuth` is given. */
export function newRedisClient(url: string, options: RedisOptions, tokenAuth: RedisTokenAuth | undefined): Redis {
  return tokenAuth === undefined ? new Redis(url, options) : new TokenAuthRedis(url, options, tokenAuth);
}

/**
 * A TokenCredential for the app's managed identity that loads @azure/identity on first use (module load stays
 * cheap): ManagedIdentityCredential({ clientId }) with MANAGED_IDENTITY_CLIENT_ID, else DefaultAzureCredential
 * (a developer signed in with `az login` against a real cache).
 */
export function lazyIdentityCredential(clientId: string | undefined): TokenCredential {
  let inner: Promise<TokenCredential> | undefined;
  return {
    async getToken(scopes, options) {
      inner ??= import('@azure/identity').then(({ DefaultAzureCredential, ManagedIdentityCredential }) =>
        clientId === undefined ? new DefaultAzureCredential() : new ManagedIdentityCredential({ clientId }),
      );
      return (await inner).getToken(scopes, options);
    },
  };
}

export interface RedisAuthSettings {
  REDIS_AUTH: 'none' | 'entra';
  REDIS_ENTRA_USERNAME?: string | undefined;
  MANAGED_IDENTITY_CLIENT_ID?: string | undefined;
}

const perSettings = new WeakMap<RedisAuthSettings, RedisTokenAuth>();

/**
 * The process's token source for REDIS_AUTH=entra (undefined otherwise). One per settings object, so the
 * key-value store and the rate limiter share one token and one renewal timer.
 */
export function redisTokenAuthFor(settings: RedisAuthSettings, onError?: (error: Error) => void): RedisTokenAuth | undefined {
  if (settings.REDIS_AUTH !== 'entra') return undefined;
  let auth = perSettings.get(settings);
  if (auth === undefined) {
    auth = new RedisTokenAuth({
      credential: lazyIdentityCredential(settings.MANAGED_IDENTITY_CLIENT_ID),
      ...(settings.REDIS_ENTRA_USERNAME === undefined ? {} : { username: settings.REDIS_ENTRA_USERNAME }),
    });
    perSettings.set(settings, auth);
  }
  if (onError !== undefined) auth.listen(onError);
  return auth;
}
