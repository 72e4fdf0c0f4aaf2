import { AuthError } from '../../shared/errors';
import { pkcePair } from '../../shared/providers/oauth';
import { slackProvider, type SlackCredentials } from '../../shared/providers/slack';
import type { OAuthClient } from '../../shared/providers/types';
import { startSlackSandbox, type SlackSandbox } from '../../local/sandbox/slack';
import { collectSlack, rejectionOf, slackPullContext, slackPullError } from '../helpers/slack';

const CHANNEL = 'C0OAUTH';
const REDIRECT = 'https://castiel.example/api/oauth/slack/callback';
const ROTATING: OAuthClient = { clientId: '1111.2222', clientSecret: 'rotating-client-secret', redirectUri: REDIRECT, scopes: ['channels:history', 'chat:write'] };
const STATIC: OAuthClient = { clientId: '3333.4444', clientSecret: 'static-client-secret', redirectUri: REDIRECT };
const oauth = slackProvider.auth!.oauth!;
let slack: SlackSandbox;
let clock = Date.now();

beforeAll(async () => {
  slack = await startSlackSandbox({ now: () => clock });
  slack.seedMessages(CHANNEL, 3);
  slack.registerOAuthClient({ ...ROTATING, rotation: true, redirectUris: [REDIRECT] });
  slack.registerOAuthClient({ ...STATIC, rotation: false });
});
afterAll(async () => {
  await slack.close();
});

const ctx = { get baseUrl() { return slack.apiUrl; }, config: { channels: [CHANNEL] }, fetch };

/** The admin's browser: follow the authorize URL and read the code off the redirect. */
async function authorize(client: OAuthClient, challenge: string, state = 'st-1'): Promise<string> {
  const url = oauth.authorizeUrl(slack.apiUrl, { channels: [CHANNEL] }, client, { state, codeChallenge: challenge });
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  expect(location.origin + location.pathname).toBe(REDIRECT);
  expect(location.searchParams.get('state')).toBe(state);
  return location.searchParams.get('code')!;
}

async function connect(client: OAuthClient): Promise<SlackCredentials> {
  const { verifier, challenge } = pkcePair();
  const code = await authorize(client, challenge);
  return oauth.exchangeCode(ctx, client, { code, codeVerifier: verifier });
}

const canPull = async (credentials: SlackCredentials): Promise<number> =>
  (await collectSlack(slackPullContext(slack.apiUrl, { channels: [CHANNEL] }, credentials))).flatMap((p) => p.records).length;
const pullFails = (credentials: SlackCredentials) => slackPullError(slackPullContext(slack.apiUrl, { channels: [CHANNEL] }, credentials));

describe('OAuth v2 against the sandbox', () => {
  it('builds the authorize URL next to the API base, with comma-separated scopes and PKCE S256', () => {
    const url = new URL(oauth.authorizeUrl('https://slack.com/api', { channels: [CHANNEL] }, ROTATING, { state: 's', codeChallenge: 'c' }));
    expect(url.origin + url.pathname).toBe('https://slack.com/oauth/v2/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: ROTATING.clientId, scope: 'channels:history,chat:write', redirect_uri: REDIRECT, state: 's', code_challenge: 'c', code_challenge_method: 'S256',
    });
  });

  it('code exchange with token rotation → rotating credentials that work, expiring in 12 h', async () => {
    const before = Date.now();
    const credentials = await connect(ROTATING);
    expect(credentials).toMatchObject({ type: 'oauth_rotating', clientId: ROTATING.clientId, clientSecret: ROTATING.clientSecret, teamId: 'T0SANDBOX', botUserId: 'U0SANDBOXBOT' });
    if (credentials.type !== 'oauth_rotating') throw new Error('unreachable');
    expect(credentials.accessToken).toMatch(/^xoxe\.xoxb-1-/);
    expect(credentials.refreshToken).toMatch(/^xoxe-1-/);
    expect(credentials.expiresAt).toBeGreaterThanOrEqual(before + 43_200_000);
    expect(credentials.expiresAt).toBeLessThanOrEqual(Date.now() + 43_200_000);
    expect(slackProvider.auth!.expiresAt(credentials)).toBe(credentials.expiresAt);
    expect(await canPull(credentials)).toBe(3);
  });

  it('code exchange without rotation → a token that never expires', async () => {
    const credentials = await connect(STATIC);
    expect(credentials).toMatchObject({ type: 'oauth', teamId: 'T0SANDBOX' });
    expect(slackProvider.auth!.expiresAt(credentials)).toBeUndefined();
    expect(await canPull(credentials)).toBe(3);
  });

  it('refresh rotates both tokens; the old refresh token is dead, and reusing it revokes the whole grant', async () => {
    const first = await connect(ROTATING);
    const second = await slackProvider.auth!.refresh!(ctx, first);
    if (first.type !== 'oauth_rotating' || second.type !== 'oauth_rotating') throw new Error('unreachable');
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(await canPull(second)).toBe(3);

    const third = await slackProvider.auth!.refresh!(ctx, second);
    // Replaying a retired refresh token (a leaked copy, or a refresh whose answer was lost) → AuthError…
    const e = await rejectionOf(() => slackProvider.auth!.refresh!(ctx, first));
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).toBe('Slack oauth.v2.access refused the grant (invalid_refresh_token)');
    // …and every token of the grant stops working, the newest included.
    expect(await pullFails(third)).toMatchObject({ kind: 'auth', message: 'Slack conversations.history: token_revoked' });
    expect(await rejectionOf(() => slackProvider.auth!.refresh!(ctx, third))).toBeInstanceOf(AuthError);
  });

  it('an expired access token → AuthError (token_expired); a refresh brings it back', async () => {
    const credentials = await connect(ROTATING);
    if (credentials.type !== 'oauth_rotating') throw new Error('unreachable');
    clock += 43_200_000 + 1000;
    try {
      expect(await pullFails(credentials)).toMatchObject({ kind: 'auth', message: 'Slack conversations.history: token_expired' });
      expect(await canPull(await slackProvider.auth!.refresh!(ctx, credentials))).toBe(3);
    } finally {
      clock = Date.now();
    }
  });

  it('an answer without a refresh token keeps the old one', async () => {
    const credentials = await connect(ROTATING);
    if (credentials.type !== 'oauth_rotating') throw new Error('unreachable');
    const stripping: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const body = (await res.json()) as Record<string, unknown>;
      delete body.refresh_token;
      return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
    };
    const next = await slackProvider.auth!.refresh!({ ...ctx, fetch: stripping }, credentials);
    expect(next).toMatchObject({ type: 'oauth_rotating', refreshToken: credentials.refreshToken });
    expect(next).not.toMatchObject({ accessToken: credentials.accessToken });
  });

  it.each([
    ['a wrong PKCE verifier', async () => {
      const { challenge } = pkcePair();
      return oauth.exchangeCode(ctx, ROTATING, { code: await authorize(ROTATING, challenge), codeVerifier: pkcePair().verifier });
    }],
    ['an unknown code', () => oauth.exchangeCode(ctx, ROTATING, { code: 'nope', codeVerifier: 'v' })],
    ['a wrong client secret', async () => {
      const { verifier, challenge } = pkcePair();
      return oauth.exchangeCode(ctx, { ...ROTATING, clientSecret: 'wrong' }, { code: await authorize(ROTATING, challenge), codeVerifier: verifier });
    }],
    ['another redirect URI', async () => {
      const { verifier, challenge } = pkcePair();
      return oauth.exchangeCode(ctx, { ...ROTATING, redirectUri: 'https://evil.example/cb' }, { code: await authorize(ROTATING, challenge), codeVerifier: verifier });
    }],
  ])('%s → AuthError', async (_name, attempt) => {
    expect(await rejectionOf(attempt)).toBeInstanceOf(AuthError);
  });

  it('a code used twice → AuthError, and the tokens it gave stop working', async () => {
    const { verifier, challenge } = pkcePair();
    const code = await authorize(STATIC, challenge);
    const credentials = await oauth.exchangeCode(ctx, STATIC, { code, codeVerifier: verifier });
    expect(await rejectionOf(() => oauth.exchangeCode(ctx, STATIC, { code, codeVerifier: verifier }))).toMatchObject({ kind: 'auth', message: expect.stringContaining('code_already_used') as unknown });
    expect(await pullFails(credentials)).toBeInstanceOf(AuthError);
  });

  it('bot tokens need no refresh', async () => {
    const bot: SlackCredentials = { type: 'bot', token: 'xoxb-static' };
    expect(slackProvider.auth!.expiresAt(bot)).toBeUndefined();
    expect(await slackProvider.auth!.refresh!(ctx, bot)).toBe(bot);
  });
});
