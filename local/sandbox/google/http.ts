/** HTTP pieces every Google sandbox route shares: replies, Google's error body, request bodies. */
import { readBodyLimited } from '../http-server';
import type { IncomingMessage } from 'node:http';

export type HeaderMap = Record<string, string>;

export interface Reply {
  status: number;
  /** An object is sent as JSON, a string as is, undefined as an empty body. */
  body?: unknown;
  headers?: HeaderMap;
}

/** The `status` member Google's newer front ends add (https://cloud.google.com/apis/design/errors#handling_errors). */
const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

export interface ErrorDetail {
  domain?: string;
  location?: string;
  locationType?: string;
  headers?: HeaderMap;
  /** Add the newer `status` member (401, 403 scope, 429 answers carry it). */
  withStatus?: boolean;
}

/**
 * Drive and Calendar's error body:
 * `{"error":{"errors":[{"domain","reason","message",…}],"code","message"}}`
 * (https://developers.google.com/calendar/api/guides/errors).
 */
export function googleError(status: number, reason: string, message: string, detail: ErrorDetail = {}): Reply {
  const item: Record<string, string> = { domain: detail.domain ?? 'global', reason, message };
  if (detail.locationType !== undefined) item.locationType = detail.locationType;
  if (detail.location !== undefined) item.location = detail.location;
  const error: Record<string, unknown> = { errors: [item], code: status, message };
  const name = STATUS_NAMES[status];
  if (detail.withStatus && name !== undefined) error.status = name;
  const reply: Reply = { status, body: { error } };
  if (detail.headers) reply.headers = detail.headers;
  return reply;
}

export const notFound = (): Reply => googleError(404, 'notFound', 'Not Found');
export const invalidParam = (location: string, message = 'Invalid Value'): Reply =>
  googleError(400, 'invalid', message, { location, locationType: 'parameter' });

/** The raw body, or undefined past `max` bytes. */
export async function readBody(req: IncomingMessage, max = 1024 * 1024): Promise<Buffer | undefined> {
  const raw = await readBodyLimited(req, max);
  if (raw === undefined) return undefined;
  return raw;
}

export function parseJsonObject(raw: Buffer | undefined): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Opaque page/sync tokens: base64url JSON, so the sandbox keeps no per-token state. */
export function encodeToken(value: Record<string, string | number | boolean>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeToken(token: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(token)) return undefined;
  return parseJsonObject(Buffer.from(token, 'base64url'));
}

export function positiveInt(value: string | null, max: number): number | undefined | 'invalid' {
  if (value === null) return undefined;
  if (!/^\d{1,9}$/.test(value)) return 'invalid';
  const n = Number(value);
  return n >= 1 ? Math.min(n, max) : 'invalid';
}

/** Seconds-resolution data clock: deterministic timestamps, one second per write. */
export class DataClock {
  private ms: number;
  constructor(start: string) {
    this.ms = Date.parse(start);
    if (Number.isNaN(this.ms)) throw new Error(`sandbox: bad clock start ${start}`);
  }
  tick(): string {
    this.ms += 1000;
    return new Date(this.ms).toISOString();
  }
  peek(): string {
    return new Date(this.ms).toISOString();
  }
}
