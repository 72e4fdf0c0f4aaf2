import { AuthError, UnrecoverableError } from '../../shared/errors';
import { githubProvider } from '../../shared/providers/github';
import { credentialsFrom, githubAuthorizeUrl, oauthBaseUrl, parseTokenAnswer } from '../../shared/providers/github/auth';
import { githubHeaders } from '../../shared/providers/github/api';

const NOW = Date.parse('2025-03-01T00:00:00Z');
const config = { owner: 'octo', repo: 'hello' };
const client = { id: 'Iv1.abc', secret: 'shh' };

describe('oauthBaseUrl', () => {
  it.each([
    ['https://api.github.com', {}, 'https://github.com/'],
    ['https://api.github.com/', {}, 'https://github.com/'],
    ['https://api.octocorp.ghe.com', {}, 'https://octocorp.ghe.com/'],
    ['https://ghe.example.com/api/v3', {}, 'https://ghe.example.com/'],
    ['https://ghe.example.com/api/v3/', {}, 'https://ghe.example.com/'],
    ['http://127.0.0.1:5555', {}, 'http://127.0.0.1:5555/'],
    ['https://proxy.example/github', {}, 'https://proxy.example/github/'],
    ['https://api.github.com', { oauthBaseUrl: 'http://127.0.0.1:9000/gh' }, 'http://127.0.0.1:9000/gh/'],
  ])('%s with %j → %s', (base, extra, expected) => {
    expect(oauthBaseUrl(base, { ...config, ...extra }).href).toBe(expected);
  });

  it('config accepts only an http(s) oauthBaseUrl without query or fragment', () => {
    const parse = (oauthBaseUrl: string): boolean => githubProvider.configSchema.safeParse({ ...config, oauthBaseUrl }).success;
    expect(parse('https://github.example.com')).toBe(true);
    expect(parse('javascript:alert(1)')).toBe(false);
    expect(parse('ftp://github.example.com')).toBe(false);
    expect(parse('https://github.example.com/?x=1')).toBe(false);
    expect(parse('https://github.example.com/#x')).toBe(false);
  });
});

describe('githubAuthorizeUrl', () => {
  it('asks github.com with the client, requested scopes, state and an S256 challenge', () => {
    const url = new URL(githubAuthorizeUrl('https://api.github.com', config, { clientId: 'Iv1.abc', clientSecret: 'shh', redirectUri: 'https://app.example/cb', scopes: ['repo', 'read:org'] }, { state: 's&t', codeChallenge: 'c'.repeat(43) }));
    expect(`${url.origin}${url.pathname}`).toBe('https://github.com/login/oauth/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: 'Iv1.abc', redirect_uri: 'https://app.example/cb', scope: 'repo read:org', state: 's&t', code_challenge: 'c'.repeat(43), code_challenge_method: 'S256',
    });
    expect(url.href).not.toContain('shh');
  });
});

describe('parseTokenAnswer', () => {
  it.each(['bad_verification_code', 'bad_refresh_token', 'incorrect_client_credentials', 'invalid_grant', 'unauthorized_client'])('%s (HTTP 200) → AuthError', (error) => {
    expect(() => parseTokenAnswer({ error, error_description: 'secret-ish ghr_123 echoed' })).toThrow(AuthError);
    expect(() => parseTokenAnswer({ error, error_description: 'secret-ish ghr_123 echoed' })).toThrow(error);
  });

  it('other errors → UnrecoverableError naming only the code; the description never reaches the message', () => {
    let message = '';
    try {
      parseTokenAnswer({ error: 'redirect_uri_mismatch', error_description: 'ghr_leak' });
    } catch (e) {
      expect(e).toBeInstanceOf(UnrecoverableError);
      message = (e as Error).message;
    }
    expect(message).toContain('redirect_uri_mismatch');
    expect(message).not.toContain('ghr_leak');
    expect(() => parseTokenAnswer({ error: 'Weird <code> ghu_x' })).toThrow('unrecognised error');
  });

  it('a body that is neither a token nor an error → UnrecoverableError', () => {
    expect(() => parseTokenAnswer({ access_token: '' })).toThrow(UnrecoverableError);
    expect(() => parseTokenAnswer([])).toThrow(UnrecoverableError);
  });

  it('reads numbers sent as strings (form-style answers)', () => {
    expect(parseTokenAnswer({ access_token: 'ghu_a', expires_in: '28800' }).expires_in).toBe(28800);
  });
});

describe('credentialsFrom', () => {
  it('an expiring answer → oauth credentials with absolute expiries and the client', () => {
    const creds = credentialsFrom({ access_token: 'ghu_a', expires_in: 28800, refresh_token: 'ghr_a', refresh_token_expires_in: 15897600 }, client, NOW);
    expect(creds).toEqual({
      type: 'oauth', accessToken: 'ghu_a', refreshToken: 'ghr_a', expiresAt: '2025-03-01T08:00:00.000Z',
      refreshTokenExpiresAt: new Date(NOW + 15897600 * 1000).toISOString(), clientId: 'Iv1.abc', clientSecret: 'shh',
    });
    expect(githubProvider.auth!.expiresAt(creds)).toBe(NOW + 8 * 3600 * 1000);
    expect(githubProvider.credentialsSchema.parse(creds)).toEqual(creds);
    expect(githubHeaders(creds).Authorization).toBe('Bearer ghu_a');
  });

  it('a non-expiring answer → token credentials', () => {
    const creds = credentialsFrom({ access_token: 'gho_a', scope: 'repo' }, client, NOW);
    expect(creds).toEqual({ type: 'token', token: 'gho_a' });
    expect(githubProvider.auth!.expiresAt(creds)).toBeUndefined();
  });

  it('on refresh, an answer without a refresh token keeps the old one and its expiry', () => {
    const previous = credentialsFrom({ access_token: 'ghu_a', expires_in: 28800, refresh_token: 'ghr_a', refresh_token_expires_in: 100 }, client, NOW);
    if (previous.type !== 'oauth') throw new Error('expected oauth');
    const next = credentialsFrom({ access_token: 'ghu_b', expires_in: 60 }, client, NOW + 1000, previous);
    expect(next).toMatchObject({ accessToken: 'ghu_b', refreshToken: 'ghr_a', refreshTokenExpiresAt: previous.refreshTokenExpiresAt, expiresAt: new Date(NOW + 61_000).toISOString() });
  });

  it('an expiring answer without a refresh token on a first exchange is refused', () => {
    expect(() => credentialsFrom({ access_token: 'ghu_a', expires_in: 28800 }, client, NOW)).toThrow(UnrecoverableError);
  });

  it('an answer without expires_in but with a refresh token gets GitHub\'s fixed 8 h', () => {
    expect(credentialsFrom({ access_token: 'ghu_a', refresh_token: 'ghr_a' }, client, NOW)).toMatchObject({ expiresAt: '2025-03-01T08:00:00.000Z' });
  });
});

describe('credentials schema', () => {
  const oauth = { type: 'oauth', accessToken: 'ghu_a', refreshToken: 'ghr_a', expiresAt: '2025-03-01T08:00:00Z', clientId: 'Iv1.abc', clientSecret: 'shh' };

  it('accepts token and oauth shapes, refuses partial oauth ones', () => {
    expect(githubProvider.credentialsSchema.safeParse({ type: 'token', token: 'ghp_x' }).success).toBe(true);
    expect(githubProvider.credentialsSchema.safeParse(oauth).success).toBe(true);
    expect(githubProvider.credentialsSchema.safeParse({ ...oauth, refreshTokenExpiresAt: '2025-09-01T00:00:00Z' }).success).toBe(true);
    for (const key of ['accessToken', 'refreshToken', 'expiresAt', 'clientId', 'clientSecret'] as const) {
      const partial = Object.fromEntries(Object.entries(oauth).filter(([k]) => k !== key));
      expect(githubProvider.credentialsSchema.safeParse(partial).success).toBe(false);
    }
    expect(githubProvider.credentialsSchema.safeParse({ ...oauth, expiresAt: 'tomorrow' }).success).toBe(false);
  });
});
