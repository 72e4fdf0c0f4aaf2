import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  flowCookieName,
  parseStateKey,
  readCookie,
  signState,
  STATE_TTL_MS,
  verifyState,
  type OAuthState,
} from '../../shared/credentials/oauth-state';

const KEY = randomBytes(32);
const NOW = Date.parse('2026-03-01T12:00:00Z');
const STATE: OAuthState = { provider: 'fakeoauth', tenantId: 'acme', integrationId: 'int-1', nonce: 'AAAAAAAAAAAAAAAAAAAAAA', expiresAt: NOW + STATE_TTL_MS };

describe('OAuth state', () => {
  it('round-trips a signed state before it expires', () => {
    const raw = signState(KEY, STATE);
    expect(verifyState(KEY, raw, NOW)).toEqual({ ok: true, state: STATE });
    expect(verifyState(KEY, raw, STATE.expiresAt - 1).ok).toBe(true);
  });

  it('refuses an expired state', () => {
    const check = verifyState(KEY, signState(KEY, STATE), STATE.expiresAt);
    expect(check).toEqual({ ok: false, reason: expect.stringMatching(/expired/) as unknown });
  });

  it('refuses a state signed with another key', () => {
    expect(verifyState(randomBytes(32), signState(KEY, STATE), NOW)).toEqual({ ok: false, reason: 'state signature is invalid' });
  });

  it('refuses a payload re-signed by nobody (integration swapped, signature kept)', () => {
    const raw = signState(KEY, STATE);
    const [, sig] = raw.split('.');
    const forged = Buffer.from(JSON.stringify({ v: 1, p: 'fakeoauth', t: 'evil', i: 'int-1', n: STATE.nonce, e: STATE.expiresAt })).toString('base64url');
    expect(verifyState(KEY, `${forged}.${sig ?? ''}`, NOW).ok).toBe(false);
  });

  it('refuses every single-character change anywhere in the state', () => {
    const raw = signState(KEY, STATE);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    fc.assert(
      fc.property(fc.nat({ max: raw.length - 1 }), fc.constantFrom(...Array.from(alphabet)), (at, ch) => {
        fc.pre(raw[at] !== ch);
        const tampered = raw.slice(0, at) + ch + raw.slice(at + 1);
        // Base64url's last character can carry unused bits: the decoded bytes may not change.
        fc.pre(!sameBytes(raw, tampered));
        return !verifyState(KEY, tampered, NOW).ok;
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ['empty', ''],
    ['one part', 'a'],
    ['three parts', 'a.b.c'],
    ['empty parts', '.'],
    ['not base64url', 'not base64!.x'],
    ['over 1024 characters', 'x'.repeat(2000)],
  ])('refuses a malformed state (%s) without throwing', (_label, raw) => {
    expect(verifyState(KEY, raw, NOW).ok).toBe(false);
  });

  it('takes a key of at least 32 bytes from base64 and nothing shorter', () => {
    expect(parseStateKey(randomBytes(32).toString('base64'))).toHaveLength(32);
    expect(parseStateKey(randomBytes(31).toString('base64'))).toBeUndefined();
    expect(parseStateKey(undefined)).toBeUndefined();
    expect(parseStateKey('')).toBeUndefined();
  });
});

describe('flow cookie', () => {
  it('names one cookie per flow and reads it from a Cookie header', () => {
    const name = flowCookieName(STATE.nonce);
    expect(name).toBe(`castiel_oauth_${STATE.nonce}`);
    expect(readCookie(`a=1; ${name}=bind-value; b=2`, name)).toBe('bind-value');
    expect(readCookie(`${name}x=other`, name)).toBeUndefined();
    expect(readCookie(undefined, name)).toBeUndefined();
  });
});

function sameBytes(a: string, b: string): boolean {
  const [pa, sa] = a.split('.');
  const [pb, sb] = b.split('.');
  if (pa === undefined || sa === undefined || pb === undefined || sb === undefined) return false;
  if (!/^[A-Za-z0-9_-]+$/.test(pb) || !/^[A-Za-z0-9_-]+$/.test(sb)) return false;
  return Buffer.from(pa, 'base64url').equals(Buffer.from(pb, 'base64url')) && Buffer.from(sa, 'base64url').equals(Buffer.from(sb, 'base64url'));
}
