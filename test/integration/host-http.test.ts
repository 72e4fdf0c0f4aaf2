import { request as httpRequest } from 'node:http';
import { HttpResponse } from '@azure/functions';
import type { HttpHandler, HttpRequest, InvocationContext } from '@azure/functions';
import type { FunctionDefinition } from '../../functions/definitions';
import { createLogger } from '../../shared/observability/logger';
import type { LogFields, LogLevel } from '../../shared/observability/logger';
import { startLocalHost } from '../../local/host/host';
import type { LocalHost } from '../../local/host/host';

interface Seen {
  method: string;
  url: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Buffer;
  functionName: string;
  invocationId: string;
}

const lines: { level: LogLevel; message: string; fields: LogFields }[] = [];
const logger = createLogger((level, message, fields) => lines.push({ level, message, fields }), 'debug');
let seen: Seen[] = [];

const record: HttpHandler = async (req: HttpRequest, context: InvocationContext) => {
  seen.push({
    method: req.method,
    url: req.url,
    params: { ...req.params },
    query: Object.fromEntries(req.query.entries()),
    headers: Object.fromEntries(req.headers.entries()),
    body: Buffer.from(await req.arrayBuffer()),
    functionName: context.functionName,
    invocationId: context.invocationId,
  });
  context.log('handled', req.params.provider ?? '-');
  return { status: 202, jsonBody: { ok: true } };
};

const http = (name: string, route: string, methods: ('GET' | 'POST' | 'DELETE')[], handler: HttpHandler): FunctionDefinition =>
  ({ kind: 'http', name, route, methods, authLevel: 'anonymous', handler });

const definitions: FunctionDefinition[] = [
  http('WebhookReceiver', 'webhooks/{provider}/{integrationId}', ['POST'], record),
  http('GetTenant', 'admin/tenants/{tenantId}', ['GET'], () => ({ jsonBody: { tenant: 't' } })),
  http('DeleteTenant', 'admin/tenants/{tenantId}', ['DELETE'], () => ({ status: 204 })),
  http('Runs', 'admin/runs/{integrationId}/{runId?}', ['GET'], record),
  http('Throws', 'boom', ['GET'], () => { throw new Error('handler exploded with secret-ish detail'); }),
  http('Text', 'text', ['GET'], () => ({ body: 'plain words' })),
  http('Bytes', 'bytes', ['GET'], () => ({ body: new Uint8Array([0, 255, 1]), headers: { 'content-type': 'application/octet-stream' } })),
  // The types forbid it, but a JS handler can return nothing; the host answers 204.
  http('Nothing', 'nothing', ['GET'], (() => undefined) as unknown as HttpHandler),
  http('Instance', 'instance', ['GET'], () => new HttpResponse({
    status: 201,
    jsonBody: { made: true },
    headers: { 'x-extra': 'yes' },
    cookies: [{ name: 'sid', value: 'abc', httpOnly: true, path: '/' }],
  })),
];

let host: LocalHost;
let base: string;

beforeAll(async () => {
  host = await startLocalHost({ definitions, logger, port: 0, http: { maxBodyBytes: 1024 } });
  base = `${host.url}/api`;
});
afterAll(async () => {
  await host.stop();
});
beforeEach(() => {
  seen = [];
  lines.length = 0;
});

describe('local host HTTP', () => {
  it('passes route params, query, headers and the exact raw body bytes', async () => {
    // Not valid UTF-8: any decode/re-encode on the way would change these bytes.
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0xe2, 0x82, 0x41]);
    const res = await fetch(`${base}/webhooks/github/int-42?delivery=d1&x=%20y`, {
      method: 'POST',
      headers: { 'x-hub-signature-256': 'sha256=abc', 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ ok: true });
    expect(seen).toHaveLength(1);
    const s = seen[0]!;
    expect(s.body.equals(bytes)).toBe(true);
    expect(s.method).toBe('POST');
    expect(s.url).toBe(`${base}/webhooks/github/int-42?delivery=d1&x=%20y`);
    expect(s.params).toEqual({ provider: 'github', integrationId: 'int-42' });
    expect(s.query).toEqual({ delivery: 'd1', x: ' y' });
    expect(s.headers['x-hub-signature-256']).toBe('sha256=abc');
    expect(s.functionName).toBe('WebhookReceiver');
    expect(s.invocationId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    // context.log reaches our logger with the invocation's identity.
    const logged = lines.find((l) => l.message === 'handled github');
    expect(logged?.fields).toMatchObject({ functionName: 'WebhookReceiver', invocationId: s.invocationId });
  });

  it('binds optional segments', async () => {
    expect((await fetch(`${base}/admin/runs/i1`)).status).toBe(202);
    expect((await fetch(`${base}/admin/runs/i1/r9`)).status).toBe(202);
    expect(seen.map((s) => s.params)).toEqual([{ integrationId: 'i1' }, { integrationId: 'i1', runId: 'r9' }]);
  });

  it('routes the same template to different functions by method, 405 otherwise', async () => {
    const get = await fetch(`${base}/admin/tenants/t1`);
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ tenant: 't' });
    const del = await fetch(`${base}/admin/tenants/t1`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(await del.text()).toBe('');
    const put = await fetch(`${base}/admin/tenants/t1`, { method: 'PUT', body: 'x' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, DELETE');
    expect(await put.json()).toMatchObject({ error: 'method_not_allowed' });
  });

  it('answers 404 JSON for unknown routes and outside the prefix', async () => {
    for (const url of [`${base}/nope`, `${base}/webhooks/github`, `${host.url}/webhooks/github/i1`]) {
      const res = await fetch(url, { method: 'POST', body: '{}' });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect(await res.json()).toMatchObject({ error: 'not_found' });
    }
  });

  it('answers 400 for malformed percent-encoding', async () => {
    const res = await fetch(`${base}/admin/tenants/%zz`);
    expect(res.status).toBe(400);
  });

  it('answers 413 for a declared oversized body without calling the handler', async () => {
    const res = await fetch(`${base}/webhooks/github/i1`, { method: 'POST', body: Buffer.alloc(4096, 1) });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'payload_too_large' });
    expect(seen).toHaveLength(0);
  });

  it('answers 413 for a chunked body once it passes the cap, and keeps serving', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${base}/webhooks/github/i1`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 4; i++) req.write(Buffer.alloc(512, 2));
      req.end();
    });
    expect(status).toBe(413);
    // (How far the rest is read, and the memory it may cost, is test/e2e/host-limits.test.ts's subject.)
    expect(seen).toHaveLength(0);
    expect((await fetch(`${base}/webhooks/github/i1`, { method: 'POST', body: 'small' })).status).toBe(202);
  });

  it('accepts a body exactly at the cap', async () => {
    const res = await fetch(`${base}/webhooks/github/i1`, { method: 'POST', body: Buffer.alloc(1024, 3) });
    expect(res.status).toBe(202);
    expect(seen[0]?.body.length).toBe(1024);
  });

  it('turns a throwing handler into a generic 500, logs it, and keeps serving', async () => {
    const res = await fetch(`${base}/boom`);
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(JSON.parse(body)).toMatchObject({ error: 'internal_error' });
    expect(body).not.toContain('exploded');
    const err = lines.find((l) => l.level === 'error' && l.message === 'http function threw');
    expect(err?.fields).toMatchObject({ functionName: 'Throws', error: 'Error: handler exploded with secret-ish detail' });
    expect((await fetch(`${base}/text`)).status).toBe(200);
  });

  it('writes string, bytes, empty and HttpResponse results like the library', async () => {
    const text = await fetch(`${base}/text`);
    expect(text.status).toBe(200);
    expect(text.headers.get('content-type')).toBe('text/plain;charset=UTF-8');
    expect(await text.text()).toBe('plain words');

    const bytes = await fetch(`${base}/bytes`);
    expect(Buffer.from(await bytes.arrayBuffer())).toEqual(Buffer.from([0, 255, 1]));
    expect(bytes.headers.get('content-type')).toBe('application/octet-stream');

    const nothing = await fetch(`${base}/nothing`);
    expect(nothing.status).toBe(204);

    const instance = await fetch(`${base}/instance`);
    expect(instance.status).toBe(201);
    expect(instance.headers.get('x-extra')).toBe('yes');
    expect(instance.headers.get('content-type')).toBe('application/json');
    expect(instance.headers.getSetCookie()).toEqual(['sid=abc; Path=/; HttpOnly']);
    expect(await instance.json()).toEqual({ made: true });
  });

  it('drops GET bodies, as the library does', async () => {
    const res = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${base}/admin/runs/i1`, { method: 'GET', headers: { 'content-length': '3' } }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('abc');
    });
    expect(res).toBe(202);
    expect(seen[0]?.body.length).toBe(0);
  });
});

describe('local host HTTP, malformed input', () => {
  it('answers 400 when the Host header cannot form a URL', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${base}/text`, { method: 'GET', headers: { host: 'not a host' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
  });
});
