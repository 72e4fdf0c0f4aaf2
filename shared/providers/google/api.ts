/** A Drive/Calendar client for one run: the token session, runtime and call context in one place. */
import { UnrecoverableError } from '../../errors';
import type { z } from 'zod';
import type { CallContext } from '../types';
import { under, type AuthContext } from './auth';
import { googleRequest, readGoogleJson, type GoogleCallContext, type GoogleRequest } from './http';
import type { GoogleRuntime } from './runtime';
import type { GoogleConfig, GoogleCredentials } from './schemas';
import { GoogleTokenSession } from './session';

export interface GoogleApiContext extends GoogleCallContext {
  baseUrl: string;
  config: GoogleConfig;
  credentials: GoogleCredentials;
}

export class GoogleApi {
  private readonly session: GoogleTokenSession;

  constructor(
    private readonly ctx: GoogleApiContext,
    readonly rt: GoogleRuntime,
  ) {
    const auth: AuthContext = { baseUrl: ctx.baseUrl, config: ctx.config, fetch: ctx.fetch };
    this.session = new GoogleTokenSession(auth, ctx.credentials, rt);
  }

  /** `path` under the base URL with query parameters (undefined ones left out). */
  url(path: string, params: Record<string, string | undefined> = {}): URL {
    const url = new URL(under(this.ctx.baseUrl, path));
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
    return url;
  }

  request(request: GoogleRequest): Promise<Response> {
    return googleRequest(this.ctx, this.session, this.rt, request);
  }

  /** Read and validate a 2xx JSON body. */
  async parse<T>(response: Response, schema: z.ZodType<T>, operation: string): Promise<T> {
    const parsed = schema.safeParse(await readGoogleJson(response, operation));
    if (!parsed.success) throw new UnrecoverableError(`${operation}: unexpected response shape (${summarise(parsed.error)})`);
    return parsed.data;
  }
}

function summarise(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/** The part of a pull or push context the client needs. */
export function apiContextFrom(ctx: CallContext<GoogleConfig, GoogleCredentials>): GoogleApiContext {
  const out: GoogleApiContext = { baseUrl: ctx.baseUrl, config: ctx.config, credentials: ctx.credentials, fetch: ctx.fetch };
  if (ctx.onRateLimit) out.onRateLimit = ctx.onRateLimit;
  if (ctx.signal) out.signal = ctx.signal;
  return out;
}
