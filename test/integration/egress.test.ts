/**
 * The egress policy end to end: the transport refuses the address it would
 * connect to, the guard refuses redirects off the origin, the admin API
 * refuses bad URLs with a 400, a Salesforce instanceUrl off the list never
 * receives the token, and a provider's error page never lands in run.error.
 * Test servers listen on 127.0.0.1, reachable only with the sandbox setting,
 * so every rule here is exercised with loopback open unless the test says strict.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { putCredentials } from '../../shared/api/credentials';
import { putIntegration } from '../../shared/api/integrations';
import { putTenant } from '../../shared/api/tenants';
import { guardFetch } from '../../shared/http/egress';
import { egressPolicy, EgressRefusedError, STRICT_EGRESS } from '../../shared/http/egress-policy';
import { createEgressTransport, type Resolver } from '../../shared/http/egress-transport';
import { runPullSync } from '../../shared/sync/pull';
import { apiRequest, seedGithubIntegration } from '../helpers/api';
import { embeddedServices, type TestServices } from '../helpers/services';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface TestServer {
  url: string;
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

const servers: TestServer[] = [];

async function listen(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<TestServer> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const s: TestServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => { resolve(); }); }),
  };
  servers.push(s);
  return s;
}

const ok = (res: ServerResponse, body = '{"ok":true}'): void => {
  res.writeHead(200, { 'content-type': 'application/json' }).end(body);
};

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const SANDBOX = egressPolicy('sandbox');
/** A resolver that answers from a table, as a DNS server under someone else's control might. */
const answering = (table: Record<string, string[]>): Resolver => (hostname, _options, callback) => {
  callback(null, (table[hostname] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
};

let t: TestServices | undefined;
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await t?.cleanup();
  t = undefined;
});

describe('the transport checks the address it connects to', () => {
  it('strict: a name resolving to loopback (localhost) and a loopback literal get no connection', async () => {
    const server = await listen((_req, res) => { ok(res); });
    const transport = createEgressTransport(STRICT_EGRESS);
    const byName = await rejection(transport(`http://localhost:${server.port}/`));
    expect(byName).toBeInstanceOf(EgressRefusedError);
    expect(byName.message).toMatch(/localhost resolves to a loopback address/);
    expect(await rejection(transport(`${server.url}/`))).toBeInstanceOf(EgressRefusedError);
    expect(server.seen).toHaveLength(0);
  });

  it('a documented host whose DNS answer is internal is refused; the address checked is the one connected', async () => {
    const server = await listen((_req, res) => { ok(res); });
    const resolver = answering({ 'api.notion.com': ['127.0.0.1'], 'mixed.example': ['8.8.8.8', '169.254.169.254'] });
    const strict = createEgressTransport(STRICT_EGRESS, { resolver });
    expect((await rejection(strict(`http://api.notion.com:${server.port}/v1/users`))).message).toMatch(/api\.notion\.com resolves to a loopback address/);
    // One internal answer among public ones refuses the name: the connection could land on either.
    expect((await rejection(strict(`http://mixed.example:${server.port}/`))).message).toMatch(/resolves to a metadata address/);
    expect(server.seen).toHaveLength(0);
    // With loopback open the same answer is what the socket connects to.
    const res = await createEgressTransport(SANDBOX, { resolver })(`http://api.notion.com:${server.port}/v1/users`);
    expect(res.status).toBe(200);
    expect(server.seen.map((s) => s.headers.host)).toEqual([`api.notion.com:${server.port}`]);
  });

  it('behaves as fetch for what providers send and read: forms, gzip, 3xx returned as they are, aborts', async () => {
    const server = await listen((req, res, body) => {
      if (req.url === '/gzip') res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/json' }).end(gzipSync('{"zipped":true}'));
      else if (req.url === '/moved') res.writeHead(302, { location: '/elsewhere' }).end();
      else if (req.url === '/hang') res.flushHeaders();
      else ok(res, JSON.stringify({ body, type: req.headers['content-type'], ua: req.headers['user-agent'] }));
    });
    const transport = createEgressTransport(SANDBOX);
    const posted = await transport(`${server.url}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token' }) });
    expect(await posted.json()).toEqual({ body: 'grant_type=refresh_token', type: 'application/x-www-form-urlencoded;charset=UTF-8', ua: 'castiel-sync' });
    expect(await (await transport(`${server.url}/gzip`)).json()).toEqual({ zipped: true });
    const moved = await transport(`${server.url}/moved`);
    expect([moved.status, moved.headers.get('location')]).toEqual([302, '/elsewhere']);
    const hanging = await transport(`${server.url}/hang`, { signal: AbortSignal.timeout(50) });
    expect((await rejection(hanging.text())).name).toBe('TimeoutError');
  });
});

describe('redirects stay on the origin', () => {
  it.each([302, 307])('a %i to another origin is refused, and the other origin sees nothing', async (status) => {
    const other = await listen((_req, res) => { ok(res); });
    const server = await listen((_req, res) => { res.writeHead(status, { location: `${other.url}/steal` }).end(); });
    const guarded = guardFetch(createEgressTransport(SANDBOX), SANDBOX, [], 'Acme');
    const e = await rejection(guarded(`${server.url}/x`, { method: 'POST', headers: { authorization: 'Bearer secret-token' }, body: '{}' }));
    expect(e).toBeInstanceOf(EgressRefusedError);
    expect(e.message).toMatch(/egress refused \(redirect\)/);
    expect(other.seen).toHaveLength(0);
  });

  it('same-origin redirects are followed: 307 repeats the method and body, 303 turns into a GET', async () => {
    const server = await listen((req, res) => {
      if (req.url === '/a') res.writeHead(307, { location: '/b' }).end();
      else if (req.url === '/b') res.writeHead(303, { location: '/c' }).end();
      else ok(res);
    });
    const guarded = guardFetch(createEgressTransport(SANDBOX), SANDBOX, [], 'Acme');
    expect((await guarded(`${server.url}/a`, { method: 'POST', body: '{"n":1}', headers: { 'content-type': 'application/json' } })).status).toBe(200);
    expect(server.seen.map((s) => [s.method, s.url, s.body])).toEqual([['POST', '/a', '{"n":1}'], ['POST', '/b', '{"n":1}'], ['GET', '/c', '']]);
  });

  it('a GitHub page redirected to another origin fails the run; the token never leaves the origin', async () => {
    t = await embeddedServices();
    const rogue = await listen((_req, res) => { ok(res, '[]'); });
    const github = await listen((_req, res) => { res.writeHead(302, { location: `${rogue.url}/repos/octo/hello/issues?page=2` }).end(); });
    const seed = await seedGithubIntegration(t.services, github.url);
    const outcome = await runPullSync(t.services.syncDeps, { type: 'sync.pull', tenantId: seed.tenantId, integrationId: seed.integrationId, trigger: 'manual', requestedAt: new Date().toISOString() }, { messageId: 'm-redirect', deliveryCount: 1 });
    expect(outcome).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/egress refused \(redirect\)/) as unknown });
    expect(github.seen).toHaveLength(1);
    expect(rogue.seen).toHaveLength(0);
  });
});

describe('integration PUT validates baseUrl against the provider hosts and the address rules', () => {
  const put = async (services: TestServices, integrationId: string, body: Record<string, unknown>) => {
    await putTenant(services.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme' }, body: { name: 'Acme' } }));
    return putIntegration(services.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme', integrationId }, body }));
  };
  const github = (baseUrl: string, config: Record<string, unknown> = {}) => ({ provider: 'github', baseUrl, config: { owner: 'octo', repo: 'hello', ...config }, credentials: { type: 'token', token: 'ghp_x' } });

  it.each([
    ['http://169.254.169.254/latest', 'address'],
    ['http://127.0.0.1:6379', 'address'],
    ['http://[::1]:8080', 'address'],
    ['http://0.0.0.0:80', 'address'],
    ['http://2130706433/', 'address'],
    ['https://[::ffff:127.0.0.1]/', 'address'],
    ['https://10.0.0.8/api/v3', 'address'],
    ['https://user:pw@api.github.com', 'userinfo'],
    ['https://redis.internal', 'host'],
    ['https://ghe.example.com/api/v3', 'host'],
    ['http://api.github.com', 'scheme'],
    ['https://api.github.com:8443', 'port'],
  ])('strict: %s → 400 (%s rule), nothing stored', async (baseUrl, rule) => {
    t = await embeddedServices({ EGRESS_ALLOW_LOCAL: 'off' });
    const res = await put(t, 'gh-bad', github(baseUrl));
    expect(res.status).toBe(400);
    expect(res.jsonBody).toMatchObject({ reason: expect.stringContaining(`baseUrl: egress policy (${rule})`) as unknown });
    expect(await t.services.repos.getIntegration('acme', 'gh-bad')).toBeUndefined();
  });

  it('strict: documented hosts pass; a GitHub Enterprise host passes once the admin lists it', async () => {
    t = await embeddedServices({ EGRESS_ALLOW_LOCAL: 'off' });
    expect((await put(t, 'gh-dotcom', github('https://api.github.com'))).status).toBe(201);
    expect((await put(t, 'gh-ghe', github('https://ghe.example.com/api/v3', { enterpriseHosts: ['ghe.example.com'] }))).status).toBe(201);
    expect((await put(t, 'gh-ghe-ip', github('https://ghe.example.com/api/v3', { enterpriseHosts: ['10.0.0.8'] }))).status).toBe(400);
    const sf = await put(t, 'sf-token', { provider: 'salesforce', config: { objects: [{ name: 'Account', fields: ['Name'] }] }, credentials: { type: 'token', accessToken: '00Dx', instanceUrl: 'https://evil.example.com' } });
    expect(sf.status).toBe(400);
    expect(sf.jsonBody).toMatchObject({ reason: expect.stringContaining('credentials.instanceUrl: egress policy (host)') as unknown });
  });

  it('strict: credentials replaced later go through the same check (a rogue instanceUrl is a 400 and nothing is written)', async () => {
    t = await embeddedServices({ EGRESS_ALLOW_LOCAL: 'off' });
    const good = { type: 'token', accessToken: '00Dx', instanceUrl: 'https://acme.my.salesforce.com' };
    expect((await put(t, 'sf-ok', { provider: 'salesforce', config: { objects: [{ name: 'Account', fields: ['Name'] }] }, credentials: good })).status).toBe(201);
    const before = await t.services.repos.getIntegration('acme', 'sf-ok');
    const res = await putCredentials(
      t.services.credentials.admin,
      apiRequest({ method: 'PUT', params: { tenantId: 'acme', integrationId: 'sf-ok' }, body: { kind: 'api-key', credentials: { ...good, instanceUrl: 'https://evil.example.com' } } }),
    );
    expect(res.status).toBe(400);
    expect(res.jsonBody).toMatchObject({ reason: expect.stringContaining('credentials.instanceUrl: egress policy (host)') as unknown });
    expect((await t.services.repos.getIntegration('acme', 'sf-ok'))?.etag).toBe(before?.etag);
  });

  it('sandbox setting: loopback literals pass, other inside addresses and names still do not', async () => {
    t = await embeddedServices({ EGRESS_ALLOW_LOCAL: 'sandbox' });
    expect((await put(t, 'gh-local', github('http://127.0.0.1:4567'))).status).toBe(201);
    expect((await put(t, 'gh-meta', github('http://169.254.169.254'))).status).toBe(400);
    expect((await put(t, 'gh-name', github('http://localhost:6379'))).status).toBe(400);
  });
});

describe('a Salesforce instanceUrl off the allowlist never receives the token', () => {
  const config = { apiVersion: '62.0', overlapSeconds: 1, objects: [{ name: 'Account', fields: ['Name'] }] };

  it('a token response naming a rogue instance is refused before anything is sent there', async () => {
    t = await embeddedServices();
    const rogue = await listen((_req, res) => { ok(res, '{"records":[],"done":true}'); });
    const login = await listen((_req, res) => { ok(res, JSON.stringify({ access_token: '00Dsecret-access-token', instance_url: `http://localhost:${rogue.port}`, token_type: 'Bearer' })); });
    const salesforce = t.services.providers.get('salesforce');
    const e = await rejection(salesforce!.auth!.refresh!({ baseUrl: login.url, config, fetch: t.services.syncDeps.fetch }, { type: 'client_credentials', clientId: 'cid', clientSecret: 'csecret' }));
    expect(e).toBeInstanceOf(EgressRefusedError);
    expect(e.message).toMatch(/egress refused \((scheme|host)\): credentials\.instanceUrl/);
    expect(login.seen).toHaveLength(1);
    expect(rogue.seen).toHaveLength(0);
  });

  it('stored credentials naming a rogue instance: the pull is refused before the request', async () => {
    t = await embeddedServices();
    const rogue = await listen((_req, res) => { ok(res, '{"records":[],"done":true,"totalSize":0}'); });
    const salesforce = t.services.providers.get('salesforce');
    const pull = salesforce!.pull({ baseUrl: 'https://login.salesforce.com', config, cursor: undefined, fetch: t.services.syncDeps.fetch, credentials: { type: 'token', accessToken: '00Dsecret-access-token', instanceUrl: `http://localhost:${rogue.port}` } });
    expect(await rejection(pull.next())).toBeInstanceOf(EgressRefusedError);
    expect(rogue.seen).toHaveLength(0);
  });
});

describe('a provider error body is summarised in run.error and the log', () => {
  it('a 500 with an internal HTML dump leaves only the status and a short, clean message', async () => {
    t = await embeddedServices();
    const dump = `<html><head><title>Internal</title></head><body><pre>${'internal-dump-row '.repeat(800)}</pre></body></html>`;
    const github = await listen((_req, res) => {
      res.statusMessage = 'internal-secret-reason';
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: dump }));
    });
    const seed = await seedGithubIntegration(t.services, github.url);
    const outcome = await runPullSync(t.services.syncDeps, { type: 'sync.pull', tenantId: seed.tenantId, integrationId: seed.integrationId, trigger: 'manual', requestedAt: new Date().toISOString() }, { messageId: 'm-500', deliveryCount: 1 });
    const run = await t.services.repos.getRun(seed.tenantId, 'runId' in outcome ? outcome.runId : '');
    const error = run?.error ?? '';
    expect(error).toContain('HTTP 500');
    expect(error).not.toMatch(/[<>]/);
    expect(error).not.toContain('internal-secret-reason');
    expect(error.length).toBeLessThan(300);
    const logged = JSON.stringify(t.logs);
    expect(logged).not.toContain('<html');
    expect(logged).not.toContain('internal-secret-reason');
  });
});
