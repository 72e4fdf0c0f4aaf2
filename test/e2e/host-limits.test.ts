/**
 * Limits before work, through `npm start` as a newcomer runs it: the host
 * stops reading a body at the route's limit (webhooks: WEBHOOK_MAX_BODY_BYTES;
 * management routes: MAX_ADMIN_BODY_BYTES), refuses on Content-Length before
 * a byte of body is sent, checks the admin key before reading an admin body,
 * and tells an unauthenticated HEAD/OPTIONS nothing about a route's methods.
 * Memory is the host child's own peak RSS (VmHWM), not a sample.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MAX_ADMIN_BODY_BYTES } from '../../shared/api/http';
import { hostUrl, peakRssGrowthBytes, startHostProcess, type HostProcess } from '../helpers/host-process';

const KEY = 'host-limits-admin-key-0123456789';
const WEBHOOK_LIMIT = 1024 * 1024; // the WEBHOOK_MAX_BODY_BYTES default
const UPLOAD = 60 * 1024 * 1024;
const MAX_RSS_GROWTH = 30 * 1024 * 1024;

let host: HostProcess;
let base: string;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'castiel-limits-'));
  host = startHostProcess({ SANDBOX: 'off', ADMIN_API_KEY: KEY, LOCAL_DATA_DIR: dataDir });
  base = `${await hostUrl(host)}/api`;
  // One admin write first, so the services are built before any measurement.
  expect((await fetch(`${base}/admin/tenants/limits`, { method: 'PUT', headers: { 'x-functions-key': KEY }, body: '{"name":"Limits"}' })).status).toBe(201);
}, 60_000);

afterAll(async () => {
  await host.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** Body bytes the client managed to hand to the socket before the answer ended the upload. */
  sent: number;
  /** Whether the server said 100 Continue. */
  continued: boolean;
}

/**
 * Upload `total` bytes chunked (no Content-Length), honouring backpressure,
 * and stop as soon as the answer arrives. A reset after the answer is how a
 * server that stops reading ends the upload, so it is not an error here.
 */
function chunkedUpload(url: string, method: string, total: number, headers: Record<string, string> = {}): Promise<Answer> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { 'transfer-encoding': 'chunked', 'content-type': 'application/json', ...headers } });
    let sent = 0;
    let answer: Answer | undefined;
    const finish = (): void => {
      if (answer) resolve(answer);
      else reject(new Error(`no answer after ${sent} bytes`));
    };
    req.on('response', (res) => {
      answer = { status: res.statusCode ?? 0, headers: res.headers, sent, continued: false };
      res.resume();
      res.once('end', () => { req.destroy(); });
    });
    req.on('error', () => { finish(); });
    req.on('close', finish);
    const pump = (): void => {
      while (!answer && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) { req.once('drain', pump); return; }
      }
      if (!answer) req.end();
    };
    pump();
  });
}

/** Send the request line and headers only (announcing a body), and wait for the answer without sending any of it. */
function headersOnly(url: string, method: string, headers: Record<string, string>, ms = 5_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers });
    let continued = false;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`${method} ${url}: no answer within ${ms} ms while the body was held back (the host is waiting to read it)`));
    }, ms);
    req.on('continue', () => { continued = true; });
    req.on('response', (res) => {
      clearTimeout(timer);
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, sent: 0, continued });
      req.destroy();
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.flushHeaders();
  });
}

const pid = (): number => {
  if (host.child.pid === undefined) throw new Error('host has no pid');
  return host.child.pid;
};

describe('body limits before buffering', () => {
  it('cuts a chunked 60 MiB webhook off at WEBHOOK_MAX_BODY_BYTES with 413, without the host buffering it', async () => {
    let answer: Answer | undefined;
    const growth = await peakRssGrowthBytes(pid(), async () => {
      answer = await chunkedUpload(`${base}/webhooks/github/any-integration`, 'POST', UPLOAD);
    });
    expect(answer?.status).toBe(413);
    expect(answer?.sent).toBeLessThan(UPLOAD / 2);
    expect(growth).toBeLessThan(MAX_RSS_GROWTH);
  });

  it('cuts a chunked 60 MiB admin upload with the key off at MAX_ADMIN_BODY_BYTES with 413, without the host buffering it', async () => {
    let answer: Answer | undefined;
    const growth = await peakRssGrowthBytes(pid(), async () => {
      answer = await chunkedUpload(`${base}/admin/tenants/limits`, 'PUT', UPLOAD, { 'x-functions-key': KEY });
    });
    expect(answer?.status).toBe(413);
    expect(answer?.sent).toBeLessThan(UPLOAD / 2);
    expect(growth).toBeLessThan(MAX_RSS_GROWTH);
  });

  it('answers an unauthenticated chunked 60 MiB admin PUT 401 without reading its body', async () => {
    let answer: Answer | undefined;
    const growth = await peakRssGrowthBytes(pid(), async () => {
      answer = await chunkedUpload(`${base}/admin/tenants/limits`, 'PUT', UPLOAD);
    });
    expect(answer?.status).toBe(401);
    expect(answer?.sent).toBeLessThan(UPLOAD / 2);
    expect(growth).toBeLessThan(MAX_RSS_GROWTH);
  });

  it('answers 413 on a Content-Length over the route limit before any of the body is sent', async () => {
    const webhook = await headersOnly(`${base}/webhooks/github/any-integration`, 'POST', { 'content-length': String(WEBHOOK_LIMIT + 1) });
    expect(webhook.status).toBe(413);
    const admin = await headersOnly(`${base}/admin/tenants/limits`, 'PUT', { 'content-length': String(MAX_ADMIN_BODY_BYTES + 1), 'x-functions-key': KEY });
    expect(admin.status).toBe(413);
    const huge = await headersOnly(`${base}/webhooks/github/any-integration`, 'POST', { 'content-length': String(UPLOAD) });
    expect(huge.status).toBe(413);
  });

  it('answers an unauthenticated admin PUT 401 before any of its body is sent', async () => {
    // Within the admin limit, so only the key check can answer before the body arrives.
    const noKey = await headersOnly(`${base}/admin/tenants/limits`, 'PUT', { 'content-length': String(MAX_ADMIN_BODY_BYTES) });
    expect(noKey.status).toBe(401);
    const wrongKey = await headersOnly(`${base}/admin/tenants/limits`, 'PUT', { 'content-length': '100', 'x-functions-key': 'not-the-key-0123456789' });
    expect(wrongKey.status).toBe(401);
  });

  it('says 100 Continue only once route, key and Content-Length pass', async () => {
    const refused = await headersOnly(`${base}/admin/tenants/limits`, 'PUT', { 'content-length': '17', expect: '100-continue' });
    expect([refused.status, refused.continued]).toEqual([401, false]);
    const tooBig = await headersOnly(`${base}/webhooks/github/x`, 'POST', { 'content-length': String(WEBHOOK_LIMIT + 1), expect: '100-continue' });
    expect([tooBig.status, tooBig.continued]).toEqual([413, false]);

    const accepted = await new Promise<Answer>((resolve, reject) => {
      const body = '{"name":"Limits"}';
      const req = httpRequest(`${base}/admin/tenants/limits`, { method: 'PUT', headers: { 'content-length': String(body.length), expect: '100-continue', 'x-functions-key': KEY } });
      req.on('continue', () => { req.end(body); });
      req.on('response', (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, sent: body.length, continued: true });
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(accepted.status).toBe(200);
  });

  it('still reads a webhook body exactly at the limit', async () => {
    // An unknown integration: whatever the handler answers, it is not the host's 413.
    const res = await fetch(`${base}/webhooks/github/any-integration`, { method: 'POST', body: Buffer.alloc(WEBHOOK_LIMIT, 0x20) });
    expect(res.status).not.toBe(413);
  });
});

describe('management routes disclose nothing before the key', () => {
  const route = '/admin/tenants/limits';

  it.each(['HEAD', 'OPTIONS'])('%s without a key answers 401 with no Allow header or method list', async (method) => {
    for (const headers of [{}, { 'x-functions-key': 'not-the-key-0123456789' }]) {
      const res = await fetch(`${base}${route}`, { method, headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('allow')).toBeNull();
      const text = await res.text();
      expect(text).not.toMatch(/PUT|GET/);
    }
  });

  it.each(['HEAD', 'OPTIONS'])('%s with the key answers 405 with Allow', async (method) => {
    const res = await fetch(`${base}${route}`, { method, headers: { 'x-functions-key': KEY } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('PUT');
  });

  it('a GET without a key answers 401 like before; the key in ?code= counts, as the Functions host reads it', async () => {
    expect((await fetch(`${base}/admin/tenants/limits/integrations/none`)).status).toBe(401);
    const start = `${base}/oauth/github/start?tenantId=limits&integrationId=none`;
    expect((await fetch(start, { redirect: 'manual' })).status).toBe(401);
    expect((await fetch(`${start}&code=${KEY}`, { redirect: 'manual' })).status).not.toBe(401);
  });
});
