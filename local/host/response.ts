import { HttpResponse } from '@azure/functions';
import type { Cookie, HttpResponseInit } from '@azure/functions';

/** What goes on the wire: status, headers (multi-valued for Set-Cookie) and the body bytes. */
export interface WireResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer | undefined;
}

/** 204/205/304 carry no body (the library drops it too). */
const NULL_BODY = new Set([204, 205, 304]);

/**
 * Turn what a handler returned into bytes, with the library's semantics:
 * `jsonBody` wins over `body` and defaults content-type to application/json,
 * a string body defaults to text/plain (what the fetch Response sets), status
 * defaults to 200. Nothing returned → 204 with no body.
 *
 * Plain objects with string/bytes/JSON bodies take a fast path (no fetch
 * Response per request: the local host must sustain thousands of requests a
 * second); anything else (HttpResponse instances, streams, Blob, FormData,
 * URLSearchParams) goes through the library's own HttpResponse so the
 * conversion is exactly the library's.
 */
export async function toWireResponse(result: unknown): Promise<WireResponse> {
  if (result === undefined || result === null) return { status: 204, headers: {}, body: undefined };
  if (typeof result !== 'object') {
    throw new TypeError('The HTTP response must be an object with optional properties "body", "jsonBody", "status", "headers" and "cookies"');
  }
  if (!(result instanceof HttpResponse)) {
    const fast = fastPath(result);
    if (fast) return fast;
  }
  const res = result instanceof HttpResponse ? result : new HttpResponse(result);
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of res.headers.entries()) headers[k] = v;
  const setCookies = res.headers.getSetCookie();
  if (setCookies.length > 0) headers['set-cookie'] = setCookies;
  addCookies(headers, res.cookies);
  const body = NULL_BODY.has(res.status) ? undefined : Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers, body };
}

function fastPath(init: HttpResponseInit): WireResponse | undefined {
  const status = init.status ?? 200;
  const headers = plainHeaders(init.headers);
  if (!headers) return undefined;
  let body: Buffer | undefined;
  // `jsonBody` is typed `any` by the library; read it as unknown.
  const jsonBody: unknown = init.jsonBody;
  if (NULL_BODY.has(status)) {
    body = undefined;
  } else if (jsonBody !== undefined && jsonBody !== null) {
    body = Buffer.from(JSON.stringify(jsonBody));
    headers['content-type'] ??= 'application/json';
  } else if (typeof init.body === 'string') {
    body = Buffer.from(init.body);
    headers['content-type'] ??= 'text/plain;charset=UTF-8';
  } else if (init.body instanceof Uint8Array) {
    // Keep the handler's bytes as they are: no copy, no re-encoding.
    body = Buffer.from(init.body.buffer, init.body.byteOffset, init.body.byteLength);
  } else if (init.body instanceof ArrayBuffer) {
    body = Buffer.from(init.body);
  } else if (init.body === undefined || init.body === null) {
    body = undefined;
  } else {
    return undefined;
  }
  addCookies(headers, init.cookies ?? []);
  return { status, headers, body };
}

/** Headers as lower-cased keys; undefined when they are a Headers object (slow path handles it). */
function plainHeaders(init: HttpResponseInit['headers']): Record<string, string | string[]> | undefined {
  const out: Record<string, string | string[]> = {};
  if (init === undefined) return out;
  if (Array.isArray(init)) {
    for (const [k, v] of init) append(out, k.toLowerCase(), v);
    return out;
  }
  if (init instanceof Headers) return undefined;
  for (const [k, v] of Object.entries(init)) append(out, k.toLowerCase(), v);
  return out;
}

function append(out: Record<string, string | string[]>, key: string, value: string): void {
  const existing = out[key];
  if (existing === undefined) out[key] = value;
  else if (key === 'set-cookie') out[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  else out[key] = `${Array.isArray(existing) ? existing.join(', ') : existing}, ${value}`;
}

function addCookies(headers: Record<string, string | string[]>, cookies: readonly Cookie[]): void {
  for (const c of cookies) append(headers, 'set-cookie', serializeCookie(c));
}

/** RFC 6265 Set-Cookie, from the library's Cookie shape. */
export function serializeCookie(c: Cookie): string {
  const parts = [`${c.name}=${c.value}`];
  if (c.domain !== undefined) parts.push(`Domain=${c.domain}`);
  if (c.path !== undefined) parts.push(`Path=${c.path}`);
  if (c.expires !== undefined) parts.push(`Expires=${new Date(c.expires).toUTCString()}`);
  if (c.maxAge !== undefined) parts.push(`Max-Age=${Math.trunc(c.maxAge)}`);
  if (c.secure === true) parts.push('Secure');
  if (c.httpOnly === true) parts.push('HttpOnly');
  if (c.sameSite !== undefined) parts.push(`SameSite=${c.sameSite}`);
  return parts.join('; ');
}
