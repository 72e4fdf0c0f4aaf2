import { ConfigError, loadSettings } from '../../shared/config/settings';
import { RetryableError, UnrecoverableError } from '../../shared/errors';
import { classifyAddress } from '../../shared/http/egress-address';
import { egressPolicy, EgressRefusedError, hostAllowed, STRICT_EGRESS } from '../../shared/http/egress-policy';
import { providerFetch, summarise, type ProviderFetchOptions } from '../../shared/http/provider-fetch';
import { providerRegistry } from '../../shared/providers/registry';

const GITHUB = ['api.github.com', 'github.com'];
const SALESFORCE = ['login.salesforce.com', 'test.salesforce.com', '*.my.salesforce.com', '*.salesforce.com'];
const strict = (url: string, hosts: readonly string[] = GITHUB) => STRICT_EGRESS.refusal(new URL(url), hosts);
const sandbox = (url: string, hosts: readonly string[] = GITHUB) => egressPolicy('sandbox').refusal(new URL(url), hosts);

describe('egress policy: addresses', () => {
  // Every form the issue listed, plus the ranges around them; the URL parser normalises the odd IPv4 spellings.
  it.each([
    ['https://169.254.169.254/latest/meta-data/', 'metadata'],
    ['https://168.63.129.16/', 'metadata'],
    ['http://127.0.0.1:6379/', 'loopback'],
    ['https://127.1.2.3/', 'loopback'],
    ['https://[::1]/', 'loopback'],
    ['https://0.0.0.0/', 'unspecified'],
    ['https://0/', 'unspecified'],
    ['https://[::]/', 'unspecified'],
    ['http://2130706433/', 'loopback'],
    ['https://0x7f.1/', 'loopback'],
    ['https://017700000001/', 'loopback'],
    ['https://0xA9FEA9FE/', 'metadata'],
    ['https://10.0.0.5/', 'private'],
    ['https://172.16.0.1/', 'private'],
    ['https://172.31.255.255/', 'private'],
    ['https://192.168.1.10/', 'private'],
    ['https://100.64.0.1/', 'private'],
    ['https://[fc00::1]/', 'private'],
    ['https://[fd12:3456::1]/', 'private'],
    ['https://[fe80::1]/', 'link-local'],
    ['https://169.254.10.10/', 'link-local'],
    ['https://[::ffff:127.0.0.1]/', 'ipv4-mapped'],
    ['https://[::ffff:169.254.169.254]/', 'ipv4-mapped'],
    ['https://[::ffff:8.8.8.8]/', 'ipv4-mapped'],
    ['https://[64:ff9b::7f00:1]/', 'ipv4-embedding'],
    ['https://[2002:7f00:1::]/', 'ipv4-embedding'],
    ['https://224.0.0.1/', 'multicast'],
    ['https://[ff02::1]/', 'multicast'],
    ['https://255.255.255.255/', 'reserved'],
  ])('%s is refused as a %s address (only loopback opens, and only with the sandbox setting)', (url, kind) => {
    expect(strict(url)).toEqual({ rule: 'address', reason: expect.stringContaining(`${kind} address`) as unknown });
    if (kind === 'loopback') expect(sandbox(url)).toBeUndefined();
    else expect(sandbox(url)).toEqual({ rule: 'address', reason: expect.stringContaining(`${kind} address`) as unknown });
  });

  it('public addresses are not special; IPv4 addresses are never taken for IPv4-mapped ones', () => {
    for (const address of ['8.8.8.8', '140.82.112.6', '172.32.0.1', '2606:4700::1111']) expect(classifyAddress(address)).toBeUndefined();
  });

  it('the sandbox setting opens loopback literals (over http) and nothing else', () => {
    expect(sandbox('http://127.0.0.1:4567/repos')).toBeUndefined();
    expect(sandbox('http://[::1]:4567/')).toBeUndefined();
    // A name is still a name: localhost is no provider's host.
    expect(sandbox('http://localhost:4567/')).toMatchObject({ rule: 'scheme' });
    expect(sandbox('https://localhost:4567/')).toMatchObject({ rule: 'host' });
    expect(sandbox('http://10.1.2.3/')).toMatchObject({ rule: 'address' });
    expect(strict('http://127.0.0.1:4567/')).toMatchObject({ rule: 'address' });
  });
});

describe('egress policy: URLs and hosts', () => {
  it('allows https to a documented host on the default port', () => {
    expect(strict('https://api.github.com/repos/o/r/issues?page=2')).toBeUndefined();
    expect(strict('https://github.com/login/oauth/access_token')).toBeUndefined();
    expect(strict('https://acme.my.salesforce.com/services/data', SALESFORCE)).toBeUndefined();
    expect(strict('https://acme--dev.sandbox.my.salesforce.com/', SALESFORCE)).toBeUndefined();
    expect(strict('https://API.GITHUB.COM./x')).toBeUndefined();
  });

  it.each([
    ['http://api.github.com/', 'scheme'],
    ['ftp://api.github.com/', 'scheme'],
    ['https://user:pw@api.github.com/', 'userinfo'],
    ['https://token@api.github.com/', 'userinfo'],
    ['https://api.github.com:8443/', 'port'],
    ['https://redis/', 'host'],
    ['https://metadata.google.internal/computeMetadata/v1/', 'host'],
    ['https://api.github.com.evil.example/', 'host'],
    ['https://evilgithub.com/', 'host'],
    ['https://140.82.112.6/', 'host'],
  ])('%s is refused by the %s rule', (url, rule) => {
    expect(strict(url)).toMatchObject({ rule });
  });

  it('a wildcard covers names under the domain, never the apex or a look-alike', () => {
    expect(hostAllowed('na1.salesforce.com', ['*.salesforce.com'])).toBe(true);
    expect(hostAllowed('a.b.salesforce.com', ['*.salesforce.com'])).toBe(true);
    expect(hostAllowed('salesforce.com', ['*.salesforce.com'])).toBe(false);
    expect(hostAllowed('evilsalesforce.com', ['*.salesforce.com'])).toBe(false);
    expect(hostAllowed('salesforce.com.evil.example', ['*.salesforce.com'])).toBe(false);
    expect(hostAllowed('127.0.0.1', ['127.0.0.1'])).toBe(false);
  });

  it('every provider declares its hosts, and its default base URL passes the strict policy', () => {
    for (const key of providerRegistry.keys()) {
      const provider = providerRegistry.get(key);
      expect(provider?.egress?.hosts.length).toBeGreaterThan(0);
      expect({ key, refusal: STRICT_EGRESS.refusal(new URL(provider?.defaultBaseUrl ?? ''), provider?.egress?.hosts ?? []) }).toEqual({ key, refusal: undefined });
    }
  });
});

describe('EGRESS_ALLOW_LOCAL', () => {
  const azure = {
    ServiceBusConnection__fullyQualifiedNamespace: 'castiel.servicebus.windows.net',
    COSMOS_ENDPOINT: 'https://castiel.documents.azure.com:443/',
    KEY_VAULT_URL: 'https://castiel.vault.azure.net/',
    REDIS_URL: 'rediss://castiel.redis.azure.net:10000',
    ADMIN_API_KEY: 'an-admin-key-of-some-length',
    OAUTH_STATE_KEY: Buffer.alloc(32, 7).toString('base64'),
  };

  it('the Azure profile refuses the sandbox setting, naming it', () => {
    expect(() => loadSettings({ ...azure, EGRESS_ALLOW_LOCAL: 'sandbox' })).toThrow(ConfigError);
    expect(() => loadSettings({ ...azure, EGRESS_ALLOW_LOCAL: 'sandbox' })).toThrow(/EGRESS_ALLOW_LOCAL: must be off when Service Bus is configured/);
    expect(loadSettings(azure).EGRESS_ALLOW_LOCAL).toBe('off');
  });

  it('defaults to off in the embedded profile too; only an explicit value opens loopback', () => {
    expect(loadSettings({}).EGRESS_ALLOW_LOCAL).toBe('off');
    expect(loadSettings({ EGRESS_ALLOW_LOCAL: 'sandbox' }).EGRESS_ALLOW_LOCAL).toBe('sandbox');
    expect(() => loadSettings({ EGRESS_ALLOW_LOCAL: 'on' })).toThrow(ConfigError);
  });
});

describe('provider error bodies are summarised', () => {
  const options: ProviderFetchOptions = {
    parseRateLimit: () => ({}),
    describe: (body) => (typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string' ? body.message : undefined),
    operation: 'Acme list',
  };
  const failure = async (fetchImpl: typeof fetch): Promise<Error> => {
    try {
      await providerFetch({ fetch: fetchImpl }, 'https://acme.test/x', {}, options);
    } catch (e) {
      return e as Error;
    }
    throw new Error('expected a failure');
  };

  it('a JSON message carrying markup, URLs and control characters is stripped and capped', async () => {
    const dump = `<html><body><pre>internal trace\u0000\u001b[31m http://10.0.0.7:9200/_cat/indices?token=abc ${'row '.repeat(4000)}</pre></body></html>`;
    const e = await failure(() => Promise.resolve(new Response(JSON.stringify({ message: dump }), { status: 500 })));
    expect(e).toBeInstanceOf(RetryableError);
    expect(e.message.startsWith('Acme list: HTTP 500 internal trace')).toBe(true);
    expect(e.message).not.toMatch(/[<>\p{Cc}]/u);
    expect(e.message).not.toContain('10.0.0.7');
    expect(e.message).not.toContain('token=abc');
    expect(e.message.length).toBeLessThanOrEqual('Acme list: HTTP 500 '.length + 121);
  });

  it('a body that is not JSON, and the reason phrase the server chose, are not kept', async () => {
    const e = await failure(() => Promise.resolve(new Response('<html>internal-secret-page</html>', { status: 502, statusText: 'internal-secret-reason' })));
    expect(e.message).toBe('Acme list: HTTP 502');
  });

  it('reads at most 16 KiB of an error body and cancels the rest', async () => {
    let pulled = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 4096;
        controller.enqueue(new Uint8Array(4096).fill(0x61));
      },
      cancel() {
        cancelled = true;
      },
    });
    const e = await failure(() => Promise.resolve(new Response(endless, { status: 500 })));
    expect(e.message).toBe('Acme list: HTTP 500');
    expect(cancelled).toBe(true);
    expect(pulled).toBeLessThanOrEqual(16_384 + 2 * 4096);
  });

  it('summarise keeps a plain provider message as it is', () => {
    expect(summarise('NOT_FOUND: The requested resource does not exist')).toBe('NOT_FOUND: The requested resource does not exist');
    expect(summarise('<br>')).toBeUndefined();
  });

  it('an egress refusal from the fetch is passed through unrecoverable, not turned into a retry', async () => {
    const refused = new EgressRefusedError('redirect', 'Acme: egress refused (redirect): elsewhere');
    const e = await failure(() => Promise.reject(refused));
    expect(e).toBe(refused);
    expect(e).toBeInstanceOf(UnrecoverableError);
  });
});
